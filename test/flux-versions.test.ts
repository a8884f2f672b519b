/**
 * What each Flux version sends a generic provider for one deployment (test/fixtures/flux-versions/, one file per
 * version or gate, events in the order they arrive), through the real HTTP app: the deployment must finish on
 * what that version sends. notification-controller 1.8.0 to 1.8.3 dropped the `commit_status: update` success
 * event for generic providers (fluxcd/notification-controller#1289, fixed by #1291), and kustomize-controller's
 * DisableCommitStatusEvent gate (fluxcd/kustomize-controller#1755) stops sending it; "Health check passed" still
 * arrives in both. A failed commit that a later event reports healthy must not stay failed.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildTestApp, post } from "./support/app.ts";
import { githubInstance } from "./support/instances.ts";

const DIR = join(import.meta.dir, "fixtures", "flux-versions");

interface VersionFixture {
  readonly what: string;
  readonly events: readonly Record<string, unknown>[];
  readonly finishes: "succeeded" | "failed" | null;
}

describe("a deployment finishes on what each Flux version sends", () => {
  for (const file of readdirSync(DIR).filter((name) => name.endsWith(".json")).sort()) {
    const fixture = JSON.parse(readFileSync(join(DIR, file), "utf8")) as VersionFixture;
    test(`${file}: ${fixture.finishes ? `finishes, ${fixture.finishes}` : "cannot finish (README says what to set)"}`, async () => {
      const { app, dryRunJobs } = buildTestApp({ instances: [githubInstance({ dispatchOnFailure: true })] });
      for (const event of fixture.events) expect((await app.handle(post("/gitopsphase", JSON.stringify(event)))).status).toBe(202);
      const told = dryRunJobs().filter((line) => line.job.kind === "orchestrator").map((line) => line.payload.outcome);
      expect(told).toEqual(fixture.finishes ? [fixture.finishes] : []);
      const main = dryRunJobs().filter((line) => line.job.kind === "status" && line.payload.status.context === "kustomization/apps-dev");
      expect(main.map((line) => line.request.body.state).at(-1)).toBe(fixture.finishes === "succeeded" ? "success" : "pending");
    });
  }
});

describe("a failed commit that a later event reports healthy does not stay failed", () => {
  const fixture = (name: string) => readFileSync(join(import.meta.dir, "fixtures", "flux", name), "utf8");

  test("HealthCheckFailed, then Health check passed on the same commit: the main status and every failed object turn healthy", async () => {
    const { app, dryRunJobs } = buildTestApp({ instances: [githubInstance({ subscribers: {} })] });
    expect((await app.handle(post("/gitopsphase", fixture("kustomization-health-check-failed.json")))).status).toBe(202);
    const failedContexts = dryRunJobs().map((line) => [line.payload.status.context, line.request.body.state]);
    expect(failedContexts).toEqual([
      ["kustomization/apps-dev", "failure"],
      ["kustomization/apps-dev/Deployment/default/podinfo", "failure"],
      ["kustomization/apps-dev/Deployment/default/backend", "failure"],
    ]);
    const before = dryRunJobs().length;
    expect((await app.handle(post("/gitopsphase", fixture("kustomization-health-check-passed.json")))).status).toBe(202);
    const after = dryRunJobs().slice(before).filter((line) => line.job.kind === "status");
    expect(after.map((line) => [line.payload.status.context, line.request.body.state, line.request.body.description])).toEqual([
      ["kustomization/apps-dev", "success", "Health check passed in 2.011542869s"],
      ["kustomization/apps-dev/Deployment/default/podinfo", "success", "healthy again"],
      ["kustomization/apps-dev/Deployment/default/backend", "success", "healthy again"],
    ]);
    // The success event that newer versions send next says nothing new.
    const succeeded = JSON.parse(fixture("kustomization-reconciliation-succeeded.json"));
    succeeded.metadata.revision = JSON.parse(fixture("kustomization-health-check-passed.json")).metadata.revision;
    const answer = await app.handle(post("/gitopsphase", JSON.stringify(succeeded)));
    expect(((await answer.json()) as { jobs: number }).jobs).toBe(0);
  });
});
