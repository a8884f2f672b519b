/**
 * deploy/github-action/action.yml: gitops-promotion's inputs by the same names, no input spliced into the script,
 * and its script run by bash as a runner would (inputs as INPUT_* variables, GITHUB_REPOSITORY, GITHUB_OUTPUT)
 * against the stateful fake GitHub, with `binary` pointing at this build.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { daemonCommand } from "../support/daemon.ts";
import { startFakeGitHub, type FakeGitHub } from "../support/fake-github-git.ts";
import { promotionModel } from "../support/promotion-repo.ts";

const ACTION = parse(readFileSync(join(import.meta.dir, "..", "..", "deploy", "github-action", "action.yml"), "utf8"));
const step = ACTION.runs.steps[0];
let fake: FakeGitHub | undefined;
afterEach(() => fake?.stop());

/** What the runner does: each `${{ inputs.x }}` of the step's env becomes that input's value (or its default). */
function stepEnv(inputs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(step.env as Record<string, string>).map(([name, expression]) => {
    const input = /^\$\{\{ inputs\.([a-z-]+) \}\}$/.exec(expression)![1]!;
    return [name, inputs[input] ?? ACTION.inputs[input].default ?? ""];
  }));
}

async function runStep(inputs: Record<string, string>, env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "github-action-"));
  const binary = join(dir, "gitops-connector");
  writeFileSync(binary, `#!/bin/sh\nexec ${daemonCommand().map((part) => `'${part}'`).join(" ")} "$@"\n`);
  chmodSync(binary, 0o755);
  const output = join(dir, "output");
  writeFileSync(output, "");
  const proc = Bun.spawn(["bash", "-c", step.run], {
    env: { PATH: process.env.PATH ?? "", ...stepEnv({ ...inputs, binary }), GITHUB_OUTPUT: output, RUNNER_TEMP: dir, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr, output: readFileSync(output, "utf8") };
}

describe("the GitHub Action", () => {
  test("has gitops-promotion's inputs, required as theirs are, and splices none into its script", () => {
    for (const name of ["action", "token", "group", "app", "tag"]) expect(ACTION.inputs[name]).toBeDefined();
    expect([ACTION.inputs.action.required, ACTION.inputs.token.required, ACTION.inputs.group.required]).toEqual([true, true, false]);
    expect(ACTION.runs.using).toBe("composite");
    expect(step.run).not.toContain("${{");
  });

  test("action: new opens the promotion PR on the workflow's repository and sets the result output", async () => {
    fake = startFakeGitHub(promotionModel());
    const token = "ghp_actionTestToken_0123456789abcdef";
    const { code, stdout, stderr, output } = await runStep(
      { action: "new", token, group: "apps", app: "web", tag: "2.0.0" },
      { GITHUB_REPOSITORY: "org/manifests", GITHUB_API_URL: fake.url },
    );
    expect({ code, stderr: stderr.replace(/warning: .*\n/g, "") }).toEqual({ code: 0, stderr: "" });
    expect(JSON.parse(stdout)).toMatchObject({ command: "new", outcome: "created", branch: "promote/apps-web" });
    expect(output).toStartWith('result={"command":"new","outcome":"created"');
    expect(stdout + stderr + output).not.toContain(token);
    expect(fake.model.pullRequests[0]!.title).toBe("Promote apps/web version 2.0.0 to environment dev");
  });

  test("an unknown action fails with a workflow error and makes no call", async () => {
    fake = startFakeGitHub(promotionModel());
    const { code, stdout } = await runStep({ action: "feature", token: "t0123456789" }, { GITHUB_REPOSITORY: "org/manifests", GITHUB_API_URL: fake.url });
    expect(code).toBe(2);
    expect(stdout).toContain('::error::action must be new, promote or status, not "feature"');
    expect(fake.calls).toEqual([]);
  });
});
