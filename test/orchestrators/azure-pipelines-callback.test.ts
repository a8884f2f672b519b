/**
 * The pure half of the Azure Pipelines callback, table-tested: the PR number in a merge commit message, the
 * callback comment in a GitHub PR body, parsing the callback data (and what it says when it is wrong), the plan
 * URLs, the organization check that keeps orchestratorPat at home, and the job-completed check.
 */
import { describe, expect, test } from "bun:test";
import {
  buildTimelineUrlOf,
  CALLBACK_PROPERTY,
  findCallbackInPullRequestBody,
  isJobCompleted,
  isOnOrganization,
  parseMergedPullRequestNumber,
  parsePipelineCallback,
  planEventsUrlOf,
  planUrlOf,
  toTaskCompletedEvent,
  type PipelineCallback,
} from "../../src/orchestrators/azure-pipelines-callback.ts";

/** What the pipeline template writes: every value a string, planurl being $(System.CollectionUri). */
const CALLBACK = {
  taskid: "a6f3c1e2-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
  jobid: "12f1170f-54f2-53f3-20dd-22fc7dff55f9",
  planurl: "https://dev.azure.com/org/",
  planid: "5e7f3a2b-1c4d-4e5f-9a8b-7c6d5e4f3a2b",
  projectid: "8d2c6f8a-0e5b-4c7d-9f1e-2a3b4c5d6e7f",
  pr_num: "42",
};

function callback(overrides: Partial<PipelineCallback> = {}): PipelineCallback {
  return { ...CALLBACK, ...overrides };
}

const parseError = (value: unknown) => {
  const parsed = parsePipelineCallback(typeof value === "string" ? value : JSON.stringify(value));
  if (parsed.ok) throw new Error(`expected ${JSON.stringify(value)} to be refused`);
  return parsed.error;
};

describe("CALLBACK_PROPERTY", () => {
  test("is the original's key", () => {
    expect(CALLBACK_PROPERTY).toBe("callback-task-id");
  });
});

describe("parseMergedPullRequestNumber", () => {
  test.each([
    ["Merged PR 42: Deploy app-src 4183912345 to dev", 42],
    ["Merged PR 7: x", 7],
    ["Merged PR 123456: Deploy\n\nRelated work items: #9", 123456],
    ["Revert of\n\nMerged PR 9: Deploy", 9],
  ])("%j → %d", (message, expected) => {
    expect(parseMergedPullRequestNumber(message)).toBe(expected);
  });

  test.each([
    "Update dev image to 1.2.3",
    "Merge pull request #42 from org/deploy/1/abc/dev",
    "Merged PR: Deploy",
    "Merged PR 42 Deploy",
    "merged pr 42: Deploy",
    "UnMerged PR 42: Deploy",
    "",
  ])("%j → undefined", (message) => {
    expect(parseMergedPullRequestNumber(message)).toBeUndefined();
  });
});

describe("findCallbackInPullRequestBody", () => {
  const json = JSON.stringify(CALLBACK);

  test.each([
    [`Deploy\n\n<!-- gitops-connector: ${json} -->`, json],
    [`<!--gitops-connector:${json}-->`, json],
    [`<!--\n  gitops-connector: {"taskid": "t",\n "jobid": "j"}\n-->`, '{"taskid": "t",\n "jobid": "j"}'],
    [`<!-- a note --> text <!-- gitops-connector: {"a":1} --> <!-- gitops-connector: {"b":2} -->`, '{"a":1}'],
  ])("%j → the JSON text", (body, expected) => {
    expect(findCallbackInPullRequestBody(body)).toBe(expected);
  });

  test.each([null, undefined, "", "Deploy to dev", "<!-- a reviewer's note -->", `gitops-connector: ${json}`, "<!-- gitops-connector: not json -->"])(
    "%j → undefined",
    (body) => {
      expect(findCallbackInPullRequestBody(body)).toBeUndefined();
    },
  );
});

describe("parsePipelineCallback", () => {
  test("the pipeline template's data parses, values trimmed, pr_num optional and string or number", () => {
    expect(parsePipelineCallback(JSON.stringify(CALLBACK))).toEqual({ ok: true, callback: CALLBACK });
    const { pr_num: _, ...withoutPr } = CALLBACK;
    expect(parsePipelineCallback(JSON.stringify(withoutPr))).toEqual({ ok: true, callback: withoutPr });
    expect(parsePipelineCallback(JSON.stringify({ ...CALLBACK, taskid: `  ${CALLBACK.taskid}\n`, pr_num: 42 }))).toEqual({
      ok: true,
      callback: { ...CALLBACK, pr_num: 42 },
    });
  });

  test("text that is not JSON", () => {
    expect(parseError("{taskid: 'x'}")).toStartWith("is not JSON (");
    expect(parseError("")).toStartWith("is not JSON (");
  });

  test.each([null, 5, '"text"'])("%j is not an object", (value) => {
    expect(parseError(value === '"text"' ? value : JSON.stringify(value))).toBe("must be a JSON object with taskid, jobid, planurl, planid and projectid");
  });

  test("each missing key is named", () => {
    expect(parseError({})).toBe("taskid is missing; jobid is missing; planid is missing; projectid is missing; planurl is missing");
    const { planid: _, ...withoutPlan } = CALLBACK;
    expect(parseError(withoutPlan)).toBe("planid is missing");
  });

  test("wrong types and empty values", () => {
    expect(parseError({ ...CALLBACK, taskid: 5 })).toBe("taskid must be text");
    expect(parseError({ ...CALLBACK, jobid: "   " })).toBe("jobid is empty");
    expect(parseError({ ...CALLBACK, projectid: null })).toBe("projectid must be text");
  });

  test.each(["dev.azure.com/org/", "$(System.CollectionUri)", "/org/"])("planurl %j is refused", (planurl) => {
    expect(parseError({ ...CALLBACK, planurl })).toBe("planurl must be an absolute URL (the pipeline's $(System.CollectionUri))");
  });
});

describe("plan URLs", () => {
  const plan = `https://dev.azure.com/org/${CALLBACK.projectid}/_apis/distributedtask/hubs/build/plans/${CALLBACK.planid}`;

  test("planurl with its trailing slash ($(System.CollectionUri))", () => {
    expect(planUrlOf(callback())).toBe(plan);
    expect(planEventsUrlOf(callback())).toBe(`${plan}/events?api-version=2.0-preview.1`);
    expect(buildTimelineUrlOf(callback(), 501)).toBe(`https://dev.azure.com/org/${CALLBACK.projectid}/_apis/build/builds/501/timeline?api-version=7.1`);
  });

  test("planurl written without the trailing slash gives the same URLs", () => {
    const bare = callback({ planurl: "https://dev.azure.com/org" });
    expect(planUrlOf(bare)).toBe(plan);
    expect(planEventsUrlOf(bare)).toBe(`${plan}/events?api-version=2.0-preview.1`);
    expect(buildTimelineUrlOf(bare, "501")).toBe(`https://dev.azure.com/org/${CALLBACK.projectid}/_apis/build/builds/501/timeline?api-version=7.1`);
  });

  test("an on-premises collection URL and ids that need encoding", () => {
    const onPrem = callback({ planurl: "https://tfs.example.com/tfs/DefaultCollection/", projectid: "My Project", planid: "p/1" });
    expect(planEventsUrlOf(onPrem)).toBe("https://tfs.example.com/tfs/DefaultCollection/My%20Project/_apis/distributedtask/hubs/build/plans/p%2F1/events?api-version=2.0-preview.1");
  });

  test("the TaskCompleted event", () => {
    expect(toTaskCompletedEvent(callback(), "succeeded")).toEqual({ name: "TaskCompleted", taskId: CALLBACK.taskid, jobId: CALLBACK.jobid, result: "succeeded" });
    expect(toTaskCompletedEvent(callback(), "failed")).toEqual({ name: "TaskCompleted", taskId: CALLBACK.taskid, jobId: CALLBACK.jobid, result: "failed" });
  });
});

describe("isOnOrganization", () => {
  test.each([
    ["https://dev.azure.com/org/", "https://dev.azure.com/org/project", true],
    ["https://dev.azure.com/org", "https://dev.azure.com/org/project/", true],
    ["https://dev.azure.com/Org/", "https://dev.azure.com/org/project", true],
    ["https://org.visualstudio.com/", "https://dev.azure.com/org/project", true],
    ["https://dev.azure.com/org/", "https://org.visualstudio.com/project", true],
    ["https://ORG.visualstudio.com/", "https://org.visualstudio.com/project", true],
    ["https://dev.azure.com:443/org/", "https://dev.azure.com/org/project", true],
    ["https://tfs.example.com/tfs/DefaultCollection/", "https://tfs.example.com/tfs/DefaultCollection/project", true],
    ["http://127.0.0.1:8080/org/", "http://127.0.0.1:8080/org/project", true],
  ])("%s on %s → %p", (planurl, azdoOrgUrl, expected) => {
    expect(isOnOrganization(planurl, azdoOrgUrl)).toBe(expected);
  });

  test.each([
    ["another organization", "https://dev.azure.com/other/", "https://dev.azure.com/org/project"],
    ["another organization, legacy form", "https://other.visualstudio.com/", "https://dev.azure.com/org/project"],
    ["no organization", "https://dev.azure.com/", "https://dev.azure.com/org/project"],
    ["a path that climbs out", "https://dev.azure.com/org/../evil/", "https://dev.azure.com/org/project"],
    ["another host", "https://attacker.example.com/org/", "https://dev.azure.com/org/project"],
    ["a look-alike host", "https://dev.azure.com.attacker.example/org/", "https://dev.azure.com/org/project"],
    ["a look-alike legacy host", "https://org.visualstudio.com.attacker.example/", "https://dev.azure.com/org/project"],
    ["another port", "https://dev.azure.com:8443/org/", "https://dev.azure.com/org/project"],
    ["http instead of https", "http://dev.azure.com/org/", "https://dev.azure.com/org/project"],
    ["http on-premises", "http://tfs.example.com/tfs/DefaultCollection/", "https://tfs.example.com/tfs/DefaultCollection/project"],
    ["another on-premises server", "https://tfs2.example.com/tfs/DefaultCollection/", "https://tfs.example.com/tfs/DefaultCollection/project"],
    ["another loopback port", "http://127.0.0.1:9090/org/", "http://127.0.0.1:8080/org/project"],
    ["no azdoOrgUrl", "https://dev.azure.com/org/", undefined],
    ["an unparsable planurl", "not a url", "https://dev.azure.com/org/project"],
    ["an unparsable azdoOrgUrl", "https://dev.azure.com/org/", "dev.azure.com/org/project"],
  ])("%s → false", (_, planurl, azdoOrgUrl) => {
    expect(isOnOrganization(planurl, azdoOrgUrl)).toBe(false);
  });
});

describe("isJobCompleted", () => {
  const jobid = CALLBACK.jobid;

  test.each([
    ["the job's record completed → true", [{ id: jobid, state: "completed" }], true],
    ["ids compare without case → true", [{ id: jobid.toUpperCase(), state: "completed" }], true],
    ["among other records → true", [{ id: "stage", state: "inProgress" }, { id: jobid, state: "completed" }], true],
    ["the job still in progress → false", [{ id: jobid, state: "inProgress" }], false],
    ["the job pending → false", [{ id: jobid, state: "pending" }], false],
    ["another record completed → false", [{ id: "0b3c4d5e-0000-4000-8000-000000000000", state: "completed" }], false],
    ["a record without id → false", [{ state: "completed" }], false],
    ["no records → false", [], false],
  ])("%s", (_, records, expected) => {
    expect(isJobCompleted({ records }, jobid)).toBe(expected);
  });

  test("records null or missing → false", () => {
    expect(isJobCompleted({ records: null }, jobid)).toBe(false);
    expect(isJobCompleted({}, jobid)).toBe(false);
  });
});
