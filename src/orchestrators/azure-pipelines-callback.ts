/**
 * The pure half of the Azure Pipelines callback: finding the PR in a merge commit message, reading the
 * callback data an agentless task left on its PR, and the URLs of the plan it resumes. The data is written by
 * the pipeline (https://github.com/Azure/arc-cicd-demo-src/blob/FluxV2/.pipelines/pr-completion-task-template.yaml):
 * `{"taskid": "$(System.TaskInstanceId)", "jobid": "$(System.JobId)", "planurl": "$(System.CollectionUri)",
 * "planid": "$(System.PlanId)", "projectid": "$(System.TeamProjectId)", "pr_num": "$(pr_num)"}`.
 */
import * as v from "valibot";
import type { Outcome } from "../core/model.ts";

/** The Azure Repos PR property that holds the callback data (the original's key). */
export const CALLBACK_PROPERTY = "callback-task-id";

/** The number in Azure Repos' merge commit message `Merged PR 42: Deploy to dev`; undefined when absent. */
export function parseMergedPullRequestNumber(message: string): number | undefined {
  const match = /\bMerged PR (\d+):/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/** GitHub PRs have no properties, so the pipeline writes the same JSON into the PR body as a hidden comment. */
export function findCallbackInPullRequestBody(body: string | null | undefined): string | undefined {
  return /<!--\s*gitops-connector:\s*(\{[\s\S]*?\})\s*-->/.exec(body ?? "")?.[1];
}

const id = (name: string) => v.pipe(v.string(`${name} must be text`), v.trim(), v.nonEmpty(`${name} is empty`));

export const PipelineCallback = v.object({
  taskid: id("taskid"),
  jobid: id("jobid"),
  planid: id("planid"),
  projectid: id("projectid"),
  planurl: v.pipe(id("planurl"), v.url("planurl must be an absolute URL (the pipeline's $(System.CollectionUri))")),
  pr_num: v.optional(v.union([v.string(), v.number()])),
  /**
   * Ours: the environment whose deployment the task waits for (two clusters on one repository, #80). Only the
   * instance with that `environment` completes it; without it, any instance does (as the original).
   */
  environment: v.optional(v.pipe(v.string("environment must be text"), v.trim())),
});
export type PipelineCallback = v.InferOutput<typeof PipelineCallback>;

export type ParsedCallback = { readonly ok: true; readonly callback: PipelineCallback } | { readonly ok: false; readonly error: string };

/** Whether an instance of `environment` may complete this callback: it names none, or the instance's. */
export function isForEnvironment(callback: PipelineCallback, environment: string | undefined): boolean {
  return !callback.environment || callback.environment === environment;
}

/** Parses the stored JSON text; the error says what is wrong with it, for a person to fix the pipeline. */
export function parsePipelineCallback(text: string): ParsedCallback {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `is not JSON (${(error as Error).message})` };
  }
  const result = v.safeParse(PipelineCallback, json);
  if (result.success) return { ok: true, callback: result.output };
  const problems = result.issues.map((issue) => {
    const key = issue.path?.[0]?.key;
    if (key === undefined) return "must be a JSON object with taskid, jobid, planurl, planid and projectid";
    return issue.input === undefined ? `${String(key)} is missing` : issue.message;
  });
  return { ok: false, error: [...new Set(problems)].join("; ") };
}

/** `$(System.CollectionUri)` ends in a slash; tolerate one written without. */
function collectionUrl(callback: PipelineCallback): string {
  return callback.planurl.endsWith("/") ? callback.planurl : `${callback.planurl}/`;
}

/**
 * `GET` the plan, to skip a plan that already completed (cancelled, timed out): completing a task in it fails.
 * The endpoint is in no published description; like the original (proven against Azure DevOps), no api-version.
 */
export function planUrlOf(callback: PipelineCallback): string {
  return `${collectionUrl(callback)}${encodeURIComponent(callback.projectid)}/_apis/distributedtask/hubs/build/plans/${encodeURIComponent(callback.planid)}`;
}

/** `POST` TaskCompleted here; the api-version is the original's, which Azure DevOps has accepted for years. */
export function planEventsUrlOf(callback: PipelineCallback): string {
  return `${planUrlOf(callback)}/events?api-version=2.0-preview.1`;
}

/** The build's timeline, whose record with the job's id says whether the waiting job already completed. */
export function buildTimelineUrlOf(callback: PipelineCallback, buildId: number | string): string {
  return `${collectionUrl(callback)}${encodeURIComponent(callback.projectid)}/_apis/build/builds/${encodeURIComponent(String(buildId))}/timeline?api-version=7.1`;
}

export function toTaskCompletedEvent(callback: PipelineCallback, outcome: Outcome) {
  return { name: "TaskCompleted", taskId: callback.taskid, jobId: callback.jobid, result: outcome } as const;
}

/** `dev.azure.com/org` for both cloud URL forms (`dev.azure.com/org/…`, `org.visualstudio.com/…`), else the origin. */
function organizationOf(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const host = parsed.host.toLowerCase();
  if (host === "dev.azure.com") return `${parsed.protocol}//dev.azure.com/${(parsed.pathname.split("/")[1] ?? "").toLowerCase()}`;
  const legacy = /^([^.]+)\.visualstudio\.com$/.exec(host);
  if (legacy) return `${parsed.protocol}//dev.azure.com/${legacy[1]}`;
  return `${parsed.protocol}//${host}`;
}

/**
 * Whether the callback's planurl lies in the instance's organization. The data comes from a PR, which anyone
 * who can edit the PR can change; the orchestrator token must only ever go to the configured organization.
 */
export function isOnOrganization(planurl: string, azdoOrgUrl: string | undefined): boolean {
  const expected = azdoOrgUrl ? organizationOf(azdoOrgUrl) : undefined;
  return expected !== undefined && organizationOf(planurl) === expected;
}

/** The parts of a plan (TaskOrchestrationPlan) the callback looks at. */
export const PlanAnswer = v.looseObject({
  state: v.optional(v.string()),
  owner: v.optional(v.looseObject({ id: v.optional(v.union([v.number(), v.string()])) })),
});

/** The parts of a build timeline the callback looks at. */
export const TimelineAnswer = v.looseObject({
  records: v.optional(v.nullable(v.array(v.looseObject({ id: v.optional(v.string()), state: v.optional(v.string()) })))),
});

/** Whether the timeline shows the job (`$(System.JobId)` is its record id) as completed. */
export function isJobCompleted(timeline: v.InferOutput<typeof TimelineAnswer>, jobid: string): boolean {
  const id = jobid.toLowerCase();
  return (timeline.records ?? []).some((record) => record.id?.toLowerCase() === id && record.state === "completed");
}
