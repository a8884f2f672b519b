/**
 * The README's config examples are what people paste first: each whole instance it shows must pass check-config
 * as printed (tokens from the environment, the GitHub App's key from a real PEM file), and say what it claims.
 */
import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnConnector } from "../support/daemon.ts";

const README = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
const EXAMPLES = [...README.matchAll(/^```yaml\n(instances:\n[\s\S]*?)^```$/gm)]  .map((match) => match[1]!)
  .filter((yaml) => yaml.includes("gitRepositoryType")); // whole instances; a fragment showing one key is not one
const TOKENS = { GITEA_TOKEN: "gitea-placeholder", GITLAB_TOKEN: "glpat-placeholder", AZDO_PAT: "azdo-placeholder", GITHUB_TOKEN: "ghp-placeholder", PROMOTIONS_TOKEN: "promotions-placeholder" };

async function checkConfig(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-readme-"));
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(dir, "github-app.pem"), privateKey.export({ type: "pkcs1", format: "pem" }));
  // /run/secrets is where the README mounts the key; here the config's own directory stands in for it.
  const path = join(dir, "config.yaml");
  writeFileSync(path, yaml.replaceAll("/run/secrets/", `${dir}/`));
  const child = spawnConnector(["check-config", "--config", path], TOKENS);
  return { code: await child.exited, output: child.lines.join("\n") };
}

describe("README config examples", () => {
  test("there are the Gitea/GitLab, GitHub App, Azure DevOps and promotion examples", () => {
    const types = EXAMPLES.flatMap((yaml) => [...yaml.matchAll(/gitRepositoryType: (\w+)/g)].map((match) => match[1]));
    expect(types.toSorted()).toEqual(["AZDO", "GITEA", "GITHUB", "GITHUB", "GITLAB"]);
  });

  test("check-config shows the promotion example as driving promotion with the API", async () => {
    const { code, output } = await checkConfig(EXAMPLES.find((yaml) => yaml.includes("promotion:"))!);
    expect(code).toBe(0);
    expect(output).toContain("apps: FLUX → GITHUB org/manifests → NONE, 0 subscribers; promotion: promotes on success, POST /api/promotions");
  });

  test.each(EXAMPLES.map((yaml) => [/name: ([\w-]+)/.exec(yaml)![1]!, yaml]))("the example with %s passes check-config", async (_, yaml) => {
    const { code, output } = await checkConfig(yaml);
    expect(output).toContain("config ok");
    expect(code).toBe(0);
  });

  test("check-config shows the GitHub App example as the README says", async () => {
    const example = EXAMPLES.find((yaml) => yaml.includes("gitHubAppId"))!;
    const claimed = /shows the instance as `([^`]+)`/.exec(README)![1]!;
    const { output } = await checkConfig(example);
    expect(output).toContain(claimed);
  });
});

describe("README promotion examples", () => {
  const section = README.slice(README.indexOf("## Promotion"), README.indexOf("## How it works"));

  test("its gitops-promotion.yaml is read as it says", async () => {
    const { readPromotionConfig } = await import("../../src/promotion/config.ts");
    const yaml = /```yaml\n(environments:[\s\S]*?)```/.exec(section)![1]!;
    const config = readPromotionConfig(yaml);
    expect(config).toMatchObject({ prflow: "per-env", statusTimeoutMs: 600_000, baseBranch: "main", mergeMethod: "merge", reconciler: "kustomization/{group}-{env}" });
    expect(config.environments).toEqual([{ name: "dev", auto: true }, { name: "qa", auto: true }, { name: "prod", auto: false }]);
  });

  test("each promote command line it shows uses only flags the command takes", async () => {
    const lines = [...section.matchAll(/gitops-connector promote (new|promote|status)\b([^\n`#]*)/g)];
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const [line, , rest] of lines) {
      const flags = [...rest!.matchAll(/(?:^|\s)(--?[a-z][a-z-]*)/g)].map((match) => match[1]!);
      const child = spawnConnector(["promote", line!.split(" ")[2]!, "--help"]);
      expect(await child.exited).toBe(0);
      const help = child.lines.join("\n");
      for (const flag of flags) expect({ line, flag, known: help.includes(flag.replace(/^-(?=[a-z])/, "--")) }).toEqual({ line, flag, known: true });
    }
  });
});
