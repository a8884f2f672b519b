/**
 * A GitOps repository laid out as gitops-promotion expects (gitops-promotion.yaml, apps/{dev,qa,prod}/), with the
 * tricky neighbours the editor must leave alone, and a CommandContext whose waits resolve at once but are counted.
 */
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { createGitHubPromotion } from "../../src/git/github-promotion.ts";
import type { CommandContext } from "../../src/promotion/commands.ts";
import type { PromotionRepository } from "../../src/promotion/port.ts";
import { GitModel } from "./git-model.ts";
import type { FakeGitHub } from "./fake-github-git.ts";

export const PROMOTION_CONFIG = "environments:\n  - name: dev\n    auto: true\n  - name: qa\n    auto: true\n  - name: prod\n    auto: false\n";

export function deployment(env: string, tag: string): string {
  return [
    "# web, as deployed to " + env,
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata:",
    "  name: web",
    "  labels: {app: web, tier: \"frontend\"}",
    "spec:",
    "  template:",
    "    spec:",
    "      containers:",
    "        - name: web",
    `          image: ghcr.io/org/web:${tag} # {"$imagepolicy": "apps:web"}`,
    "        - name: api",
    `          image: ghcr.io/org/api:1.0.0 # {"$imagepolicy": "apps:api"}`,
    "---",
    "apiVersion: v1",
    "kind: ConfigMap",
    "metadata:",
    "  name: web-patch",
    "data:",
    "  patch.yaml: |",
    `    image: ghcr.io/org/web:${tag} # {"$imagepolicy": "apps:web"}`,
    "",
  ].join("\r\n");
}

export function kustomization(tag: string): string {
  return `\uFEFFapiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deployment.yaml]\nimages:\n  - name: worker\n    newName: ghcr.io/org/worker # {"$imagepolicy": "apps:web:name"}\n    newTag: '${tag}' # {"$imagepolicy": "apps:web:tag"}\n`;
}

export function promotionModel(config = PROMOTION_CONFIG): GitModel {
  const files: Record<string, string> = { "gitops-promotion.yaml": config, "README.md": "# manifests\n" };
  for (const env of ["dev", "qa", "prod"]) {
    files[`apps/${env}/deployment.yaml`] = deployment(env, "1.0.0");
    files[`apps/${env}/kustomization.yaml`] = kustomization("1.0.0");
    files[`apps/${env}/broken.yaml`] = "a: [\n# {\"$imagepolicy\": \"apps:web\"}\n";
    files[`apps/${env}/notes.txt`] = "image: ghcr.io/org/web:1.0.0 # {\"$imagepolicy\": \"apps:web\"}\n";
  }
  files["other/dev/deployment.yaml"] = deployment("dev", "1.0.0");
  return new GitModel(files);
}

export const GITHUB_TOKEN = "ghp_promotionTestToken0123456789abcdef";

export function gitHubPromotion(fake: FakeGitHub): PromotionRepository {
  return createGitHubPromotion({
    location: { baseUrl: fake.url, owner: "org" },
    repo: "manifests",
    credentials: tokenCredentials(GITHUB_TOKEN),
    userAgent: "gitops-connector-test",
    display: "github.com/org/manifests",
    settleMs: [1, 1],
  });
}

export interface TestContext extends CommandContext {
  readonly warnings: string[];
  readonly waits: number[];
}

/** Waits are recorded and advance a fake clock instead of sleeping. */
export function testContext(repository: PromotionRepository): TestContext {
  const warnings: string[] = [];
  const waits: number[] = [];
  let now = Date.parse("2026-12-01T10:00:00Z");
  return {
    repository,
    warnings,
    waits,
    warn: (message) => warnings.push(message),
    sleep: async (ms) => {
      waits.push(ms);
      now += ms;
    },
    now: () => now,
  };
}
