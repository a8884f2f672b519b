/** Help texts for the CLI; kept apart so main.ts stays about control flow. */

export const MAIN_USAGE = `Usage: gitops-connector <command> [options]

Closes the loop between Flux / Argo CD and your CI/CD: commit statuses on the manifests repository,
subscriber posts, and pipeline callbacks when a deployment finishes.

Commands:
  serve          run the webhook server
  check-config   validate a config file and list its instances
  version        print the version

Run "gitops-connector <command> --help" for a command's options.
Exit codes: 0 ok, 2 bad usage or config, 1 runtime failure.`;

export const SERVE_USAGE = `Usage: gitops-connector serve [--config PATH] [--port N] [--data-dir DIR] [--dry-run] [--log-level LEVEL]

Options:
  --config PATH      config file (default: $GITOPS_CONNECTOR_CONFIG, then ./config.yaml; with neither,
                     legacy mode reads the original connector's environment variables)
  --port N           listen port; overrides server.port
  --data-dir DIR     where the outbox and other state live (default ./data)
  --dry-run          log every outbound call instead of making it
  --log-level LEVEL  fatal|error|warn|info|debug|trace (default: $LOG_LEVEL, then config logLevel, then info)
  -h, --help         show this help

Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads the config (so does a change of the file).`;

export const CHECK_CONFIG_USAGE = `Usage: gitops-connector check-config [--config PATH]

Validates the config (schema, cross-field rules, \${ENV} and \${file:…} expansion) and prints one line per
instance. Exit 0 when valid; exit 2 and every error found, each with its path, when not.

Options:
  --config PATH   config file (default: $GITOPS_CONNECTOR_CONFIG, then ./config.yaml, then legacy env mode)
  -h, --help      show this help`;

export const VERSION_USAGE = `Usage: gitops-connector version

Prints the version.`;
