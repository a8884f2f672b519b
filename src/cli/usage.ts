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
