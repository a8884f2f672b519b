/**
 * What a benchmark says to a running daemon and reads back from it over HTTP: a webhook POSTed to
 * /gitopsphase with its answer, and the daemon's own counters from GET /metrics (Prometheus text format).
 * Also the tally of webhook answers the load benchmarks print.
 */

export interface EventAnswer {
  /** The HTTP status as text, or "error" when no answer came (refused, reset). */
  readonly status: string;
  /** The `jobs` of a 202 answer's body (the jobs the daemon wrote); 0 otherwise. */
  readonly jobs: number;
}

/** POSTs one event to `<url>/gitopsphase` and reads the whole answer. Never throws. */
export async function postEvent(url: string, event: Record<string, unknown>): Promise<EventAnswer> {
  try {
    const response = await fetch(`${url}/gitopsphase`, { method: "POST", body: JSON.stringify(event), headers: { "content-type": "application/json" } });
    const body = (await response.json().catch(() => ({}))) as { jobs?: unknown };
    return { status: String(response.status), jobs: response.status === 202 && typeof body.jobs === "number" ? body.jobs : 0 };
  } catch {
    return { status: "error", jobs: 0 };
  }
}

/** GET `<url>/metrics` as text. */
export async function scrapeMetrics(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  if (response.status !== 200) throw new Error(`bench: GET ${url}/metrics answered ${response.status}`);
  return response.text();
}

/**
 * The sum of a family's samples whose label text (between the braces) contains `labels`, or passes it when it
 * is a predicate; 0 before a labelled series is first counted. Throws when the family is not exposed at all,
 * so a renamed metric fails the bench instead of reading as zero.
 */
export function sumMetric(text: string, name: string, labels: string | ((labels: string) => boolean) = ""): number {
  if (!text.includes(`# TYPE ${name} `)) throw new Error(`bench: the daemon's /metrics has no ${name}`);
  const matches = typeof labels === "string" ? (found: string) => found.includes(labels) : labels;
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (sample?.[1] === name && matches(sample[2] ?? "")) total += Number(sample[3]);
  }
  return total;
}

/** One scrape, one family: `sumMetric` of a fresh GET /metrics. */
export async function readMetric(url: string, name: string, labels: string | ((labels: string) => boolean) = ""): Promise<number> {
  return sumMetric(await scrapeMetrics(url), name, labels);
}

/** Webhook answers by status ("202", "503", "error", …). */
export type AnswerCounts = Record<string, number>;

export function countAnswer(answers: AnswerCounts, status: string): void {
  answers[status] = (answers[status] ?? 0) + 1;
}

/** The answers of several runs added up. */
export function mergeAnswers(runs: ReadonlyArray<Readonly<AnswerCounts>>): AnswerCounts {
  const total: AnswerCounts = {};
  for (const answers of runs) for (const [status, count] of Object.entries(answers)) total[status] = (total[status] ?? 0) + count;
  return total;
}

/** `1200×202, 3×503`, or "none". */
export function describeAnswers(answers: Readonly<AnswerCounts>): string {
  return (
    Object.entries(answers)
      .map(([status, count]) => `${count}×${status}`)
      .join(", ") || "none"
  );
}
