/** @jsxImportSource preact */
/**
 * The deployments page (DESIGN §12), rendered on the server with preact-render-to-string, which escapes every
 * text and attribute: nothing from a payload can become markup. A commit × environment grid, newest first; each
 * cell says its state in a word (colour only repeats it), how many reconcilers are healthy, and how long ago;
 * each row links the commit and says whether its pipeline was told. Promotion chains, dead jobs with the command
 * that replays them, and filters that work as a plain form. Without JavaScript it is a static snapshot; with it,
 * src/server/page/live.ts swaps the live region on every Server-Sent Event. No token, payload or PR body is in the
 * read model, so none can be here.
 */
import { render } from "preact-render-to-string";
import type { DeploymentState, DeploymentView, PromotionView } from "../../core/deployments.ts";

export interface PageFilters {
  readonly instance?: string;
  readonly env?: string;
  readonly state?: string;
}

export interface PageModel {
  readonly deployments: readonly DeploymentView[];
  /** The grid's columns, in config order. */
  readonly environments: readonly string[];
  readonly instances: readonly string[];
  readonly promotions: readonly PromotionView[];
  readonly filters: PageFilters;
  /** Epoch ms the page was rendered at, for "time since". */
  readonly now: number;
  /** The change sequence the page shows: the live script resumes from it. */
  readonly lastChange: number;
}

const WORDS: Readonly<Record<DeploymentState, string>> = {
  pending: "pending",
  progressing: "in progress",
  succeeded: "succeeded",
  failed: "failed",
  superseded: "superseded",
};

const SYMBOLS: Readonly<Record<PromotionView["state"], string>> = { open: "⏳", merged: "✓", unchanged: "✓", blocked: "✗" };
const SYMBOL_WORDS: Readonly<Record<PromotionView["state"], string>> = { open: "waiting", merged: "merged", unchanged: "done", blocked: "blocked" };

export function since(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

interface CommitRow {
  readonly commit: string;
  readonly newest: string;
  readonly cells: ReadonlyMap<string, DeploymentView>;
}

/** Deployments grouped by commit, newest first (a commit's newest first sighting on any instance). */
export function commitRows(deployments: readonly DeploymentView[]): CommitRow[] {
  const rows = new Map<string, { commit: string; newest: string; cells: Map<string, DeploymentView> }>();
  for (const deployment of deployments) {
    const row = rows.get(deployment.commit) ?? { commit: deployment.commit, newest: deployment.firstSeen, cells: new Map() };
    if (deployment.firstSeen > row.newest) row.newest = deployment.firstSeen;
    row.cells.set(deployment.environment, deployment);
    rows.set(deployment.commit, row);
  }
  return [...rows.values()].sort((a, b) => b.newest.localeCompare(a.newest));
}

function Cell({ deployment, now }: { deployment: DeploymentView | undefined; now: number }) {
  if (deployment === undefined) return <td class="cell none"><span class="word">not seen</span></td>;
  const { succeeded, total } = deployment.healthy;
  const failing = deployment.reconcilers.find((reconciler) => reconciler.state === "failed");
  return (
    <td class={`cell ${deployment.state}`} data-instance={deployment.instance} data-state={deployment.state}>
      <span class="word">{WORDS[deployment.state]}</span>
      <span class="detail">{total > 0 ? `${succeeded}/${total} healthy` : "no reconciler yet"}</span>
      <time dateTime={deployment.lastSeen} title={deployment.lastSeen}>{since(deployment.lastSeen, now)}</time>
      {failing ? <span class="detail message">{failing.reconciler.split("/").at(-1)}: {failing.reason}: {failing.message.slice(0, 140)}</span> : null}
      {deployment.supersededBy ? <span class="detail">superseded by <code>{deployment.supersededBy.slice(0, 7)}</code></span> : null}
      {deployment.pendingJobs > 0 ? <span class="detail">{deployment.pendingJobs} to send</span> : null}
      {deployment.deadJobs.length > 0 ? <span class="detail dead-count">{deployment.deadJobs.length} dead</span> : null}
    </td>
  );
}

function Notification({ row }: { row: CommitRow }) {
  const told = [...row.cells.values()].find((deployment) => deployment.notification);
  if (told?.notification === undefined) return <span class="detail">pipeline not told</span>;
  const { outcome, supersededBy } = told.notification;
  return <span class="detail">pipeline told: {outcome}{supersededBy ? ` (superseded by ${supersededBy.slice(0, 7)})` : ""}</span>;
}

function Grid({ model, rows }: { model: PageModel; rows: readonly CommitRow[] }) {
  if (rows.length === 0) return <p id="empty">No deployment reported yet{hasFilters(model.filters) ? " that fits these filters" : ""}. Point Flux or Argo CD at this daemon, and each commit shows up here.</p>;
  const pullRequests = new Map(model.promotions.filter((p) => p.commit && p.pullRequest).map((p) => [p.commit!, p]));
  return (
    <table id="grid">
      <caption>Commits, newest first, by environment</caption>
      <thead>
        <tr>
          <th scope="col">Commit</th>
          {model.environments.map((environment) => <th scope="col">{environment}</th>)}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => {
          const link = [...row.cells.values()].find((deployment) => deployment.commitUrl)?.commitUrl;
          const promotion = pullRequests.get(row.commit);
          return (
            <tr data-commit={row.commit}>
              <th scope="row">
                {link ? <a href={link}><code>{row.commit.slice(0, 7)}</code></a> : <code>{row.commit.slice(0, 7)}</code>}
                <Notification row={row} />
                {promotion?.pullRequest ? <a class="detail" href={promotion.pullRequest.url}>PR #{promotion.pullRequest.number} to {promotion.env}</a> : null}
              </th>
              {model.environments.map((environment) => <Cell deployment={row.cells.get(environment)} now={model.now} />)}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** `dev ✓ → qa ⏳ → prod ·`: environments before the furthest recorded one are through, later ones not yet. */
export function chainSteps(steps: readonly PromotionView[]): { env: string; state: PromotionView["state"] | "through" | "not-yet"; step?: PromotionView }[] {
  const order = steps.find((step) => step.chain)?.chain ?? [...steps].sort((a, b) => a.at.localeCompare(b.at)).map((step) => step.env);
  const byEnv = new Map(steps.map((step) => [step.env, step]));
  const furthest = Math.max(...order.map((env, index) => (byEnv.has(env) ? index : -1)));
  return order.map((env, index) => {
    const step = byEnv.get(env);
    if (index === furthest && step) return { env, state: step.state, step };
    return { env, state: index < furthest ? "through" : "not-yet", ...(step ? { step } : {}) };
  });
}

const CHAIN_SYMBOLS = { ...SYMBOLS, through: "✓", "not-yet": "·" } as const;
const CHAIN_WORDS = { ...SYMBOL_WORDS, through: "done", "not-yet": "not yet" } as const;

function Chains({ promotions }: { promotions: readonly PromotionView[] }) {
  if (promotions.length === 0) return null;
  const chains = new Map<string, PromotionView[]>();
  for (const promotion of promotions) {
    const key = `${promotion.group}/${promotion.app}`;
    chains.set(key, [...(chains.get(key) ?? []), promotion]);
  }
  return (
    <section aria-labelledby="promotions-heading">
      <h2 id="promotions-heading">Promotions</h2>
      <ul class="chains">
        {[...chains].map(([name, steps]) => {
          const latest = [...steps].sort((a, b) => b.at.localeCompare(a.at))[0]!;
          return (
            <li data-chain={name}>
              <strong>{name}</strong> {latest.tag}:{" "}
              {chainSteps(steps).map(({ env, state, step }, index) => (
                <span class={`step ${state}`} data-env={env} data-state={state}>
                  {index > 0 ? " → " : ""}
                  {env} <span aria-hidden="true">{CHAIN_SYMBOLS[state]}</span>
                  <span class="word">{` ${CHAIN_WORDS[state]}`}</span>
                  {step?.pullRequest && (state === "open" || state === "blocked") ? <>{" "}<a href={step.pullRequest.url}>PR #{step.pullRequest.number}</a></> : null}
                </span>
              ))}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function DeadJobs({ deployments }: { deployments: readonly DeploymentView[] }) {
  const dead = deployments.flatMap((deployment) => deployment.deadJobs.map((job) => ({ job, deployment })));
  if (dead.length === 0) return null;
  return (
    <section aria-labelledby="dead-heading">
      <h2 id="dead-heading">Dead jobs</h2>
      <ul class="dead">
        {dead.map(({ job, deployment }) => (
          <li data-job={job.id}>
            <span class="word">{job.kind}</span> for <code>{deployment.commit.slice(0, 7)}</code> on {deployment.instance} ({job.target}) after {job.attempts} attempt{job.attempts === 1 ? "" : "s"}:{" "}
            <span class="error">{job.error ?? "no error recorded"}</span>
            <br />
            Replay it: <code class="command">{job.retry}</code>
          </li>
        ))}
      </ul>
    </section>
  );
}

function hasFilters(filters: PageFilters): boolean {
  return Boolean(filters.instance || filters.env || filters.state);
}

function Select({ name, label, values, selected }: { name: string; label: string; values: readonly string[]; selected: string | undefined }) {
  return (
    <label>
      {label}{" "}
      <select name={name}>
        <option value="">all</option>
        {values.map((value) => <option value={value} selected={value === selected}>{value}</option>)}
      </select>
    </label>
  );
}

function Filters({ model }: { model: PageModel }) {
  return (
    <form method="get" action="/" class="filters" aria-label="Filters">
      <Select name="instance" label="Instance" values={model.instances} selected={model.filters.instance} />
      <Select name="env" label="Environment" values={model.environments} selected={model.filters.env} />
      <Select name="state" label="State" values={Object.keys(WORDS)} selected={model.filters.state} />
      <button type="submit">Filter</button>
    </form>
  );
}

/** What the live script swaps: the grid, the chains and the dead jobs. */
function Live({ model }: { model: PageModel }) {
  return (
    <div id="live" data-last-change={String(model.lastChange)}>
      <Grid model={model} rows={commitRows(model.deployments)} />
      <Chains promotions={model.promotions} />
      <DeadJobs deployments={model.deployments} />
    </div>
  );
}

export function renderLive(model: PageModel): string {
  return render(<Live model={model} />);
}

export function renderPage(model: PageModel): string {
  return `<!doctype html>${render(
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Deployments · gitops-connector</title>
        <link rel="stylesheet" href="/assets/page.css" />
        <script src="/assets/live.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#live">Skip to the deployments</a>
        <header>
          <h1>Deployments</h1>
          <p id="updated" role="status" aria-live="polite">Snapshot of {new Date(model.now).toISOString()}</p>
        </header>
        <main>
          <Filters model={model} />
          <Live model={model} />
        </main>
      </body>
    </html>,
  )}`;
}
