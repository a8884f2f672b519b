/** Help texts for the CLI; kept apart so main.ts stays about control flow. */

export const MAIN_USAGE = `Usage: gitops-connector <command> [options]

Closes the loop between Flux / Argo CD and your CI/CD: commit statuses on the manifests repository,
subscriber posts, and pipeline callbacks when a deployment finishes.

Commands:
  serve          run the webhook server
  check-config   validate a config file and list its instances
  outbox         inspect and repair the delivery queue (stats, dead, retry, purge)
  import-gitopsconfig
                 turn the original connector's GitOpsConfig objects into instances
  promote        move an image tag through environments by pull requests (gitops-promotion)
  version        print the version

Run "gitops-connector <command> --help" for a command's options.
Exit codes: 0 ok, 2 bad usage or config, 1 runtime failure.`;

export const SERVE_USAGE = `Usage: gitops-connector serve [--config PATH] [--port N] [--data-dir DIR] [--dry-run] [--log-level LEVEL]

Options:
  --config PATH      config file (default: $GITOPS_CONNECTOR_CONFIG, then ./config.yaml; with neither,
                     legacy mode reads the original connector's environment variables)
  --port N           listen port; overrides server.port
  --data-dir DIR     where the outbox and other state live (default ./data)
  --dry-run          log every outbound call instead of making it; keeps its own outbox (outbox.dry-run.db),
                     so a later live run on the same data dir delivers everything
  --log-level LEVEL  fatal|error|warn|info|debug|trace (default: $LOG_LEVEL, then config logLevel, then info)
  -h, --help         show this help

Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads the config (so does a change of the file).`;

export const CHECK_CONFIG_USAGE = `Usage: gitops-connector check-config [--config PATH] [--dry-run]

Validates the config (schema, cross-field rules, \${ENV} and \${file:…} expansion, and the tokens each
instance's calls need) and prints one line per instance. Exit 0 when valid; exit 2 and every error found, each
with its path, when not.

Options:
  --config PATH   config file (default: $GITOPS_CONNECTOR_CONFIG, then ./config.yaml, then legacy env mode)
  --dry-run       check it as serve --dry-run uses it: missing tokens are warnings (a dry run calls nothing)
  -h, --help      show this help`;

export const OUTBOX_USAGE = `Usage: gitops-connector outbox <stats|dead|retry|purge> [--data-dir DIR] [--config PATH] [--dry-run] [--json]

Looks into the outbox the daemon delivers from, and repairs it. Safe while the daemon runs.

Actions:
  stats                pending, dead and done jobs by kind and target; targets waiting on a rate limit
  dead                 every dead job: id, kind, instance, target, attempts, commit and last error
  retry <id> | --all   put one dead job, or every one, back in the queue (attempts reset, due now)
  purge --dead         delete every dead job (--dead is required, so nothing is deleted by accident)

Options:
  --data-dir DIR   the daemon's data dir (default ./data); a relative outbox.path lives here
  --config PATH    the daemon's config, read for outbox.path (default: $GITOPS_CONNECTOR_CONFIG, then
                   ./config.yaml; with neither, the outbox is DIR/outbox.db)
  --dry-run        the outbox of a daemon started with --dry-run (it keeps its own file, <name>.dry-run.db)
  --json           machine-readable output
  -h, --help       show this help

Exit codes: 0 ok, 2 bad usage or a retry of a job that is not dead, 1 the outbox cannot be opened.`;

export const IMPORT_USAGE = `Usage: gitops-connector import-gitopsconfig FILE|-

Reads the original connector's GitOpsConfig objects, as \`kubectl get gitopsconfigs -A -o yaml\` prints them
(a List, or multi-document YAML; - reads stdin), and prints them as the instances: of a config file, which the
Helm chart's instances value takes too. Tokens become \${PAT} references, with a comment saying which Secret
to create. Exit 0 with the YAML on stdout; exit 2, naming each object and key it cannot map, otherwise.

  kubectl get gitopsconfigs -A -o yaml | gitops-connector import-gitopsconfig - > instances.yaml

Options:
  -h, --help   show this help`;

export const VERSION_USAGE = `Usage: gitops-connector version

Prints the version.`;

export const PROMOTE_USAGE = `Usage: gitops-connector promote <new|promote|status> [options]
       (a link or copy named gitops-promotion runs this: gitops-promotion new -group apps …)

Moves an image tag through the environments of gitops-promotion.yaml (dev → qa → prod) by pull requests on the
GitOps repository, through the provider's API: no clone, no fetch-depth. PRs are byte-compatible with
gitops-promotion's, so either tool carries on the other's promotion.

  new      --group G --app A --tag T [--digest sha256:…]
           set the tag at the "$imagepolicy": "G:A" markers under G/<first env>/ and open (or update) its PR;
           auto-merge when the environment is auto
  promote  [--sha SHA]      default: $GITHUB_SHA, $BUILD_SOURCEVERSION, else the base branch's tip
           after a promotion PR merged: open the next environment's PR with sha = that commit
  status   [--pr N | --branch B] [--timeout 5m] [--environment E]
           a required check on promotion PRs: wait until kustomization/<group>-<previous env> (or Flux's
           …/<8 hex>, or …/E) is success on the PR's sha or the base tip; pending waits, failure fails at once

Common options:
  --instance NAME     the repository and pat of a config instance (--config PATH as for serve)
  --repo URL          https://github.com/org/repo or https://dev.azure.com/org/project/_git/repo
                      default: the CI's repository (GITHUB_REPOSITORY; SYSTEM_COLLECTIONURI, SYSTEM_TEAMPROJECT,
                      BUILD_REPOSITORY_NAME), else the origin remote of --sourcedir (default: .)
  --provider NAME     github or azdo (default: the instance's or the URL's, else azdo as gitops-promotion)
  --token T           default: the instance's pat, else $GITHUB_TOKEN / $SYSTEM_ACCESSTOKEN
  --base BRANCH       default: x-gitops-connector.baseBranch of gitops-promotion.yaml, else main
  --dry-run           read everything, write nothing: print the diff and the calls it would make
  --output text|json  json: one object on stdout
Flags take one dash too (-group apps), as gitops-promotion's do.

In a GitHub workflow:
  on: { repository_dispatch: { types: [image-push] } }
  jobs:
    new:
      runs-on: ubuntu-latest
      steps:
        - run: gitops-connector promote new --provider github --group apps --app \${{ github.event.client_payload.app }} --tag \${{ github.event.client_payload.tag }}
          env: { GITHUB_TOKEN: "\${{ secrets.GITOPS_TOKEN }}" }   # a PAT or App token: merges by GITHUB_TOKEN start no workflow
  # promote: on push to main → gitops-connector promote promote --provider github
  # status:  on pull_request   → gitops-connector promote status --provider github   (make it a required check)

In an Azure pipeline:
  steps:
    - script: gitops-connector promote promote --provider azdo
      env: { SYSTEM_ACCESSTOKEN: $(System.AccessToken) }
  # new:    gitops-connector promote new --group apps --app web --tag $(Build.BuildNumber)
  # status: gitops-connector promote status   (a build validation policy on main; reads SYSTEM_PULLREQUEST_SOURCEBRANCH)

Exit codes: 0 done or nothing to do (the reason printed), 1 failed (check failed or timed out, API error), 2 usage.`;
