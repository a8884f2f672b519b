/**
 * GitHub App authentication through the real Octokit and @octokit/auth-app, against the loopback fake, which
 * verifies the app's JWT with its public key: the first call mints an installation token and the next reuses it,
 * one near its expiry is minted again, a 401 mints afresh once and only once, concurrent calls share one
 * exchange, failures to mint name the app's keys, and neither the private key nor a token is in any message. Then
 * the config keys: all three or none, not with pat, a key Node cannot read refused without being shown, one app
 * shared by the repository and GitHub Actions.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import * as v from "valibot";
import type { GitHubAppCredentials } from "../../src/clients/credentials.ts";
import { createInstallationTokens, TOKEN_EXPIRY_MARGIN_MS } from "../../src/clients/github-app.ts";
import { describeInstance } from "../../src/config/describe.ts";
import { missingTokens } from "../../src/config/required-tokens.ts";
import { InstanceConfig } from "../../src/config/schema.ts";
import { DeliveryError } from "../../src/core/delivery.ts";
import type { StatusJobPayload } from "../../src/core/model.ts";
import { USER_AGENT } from "../../src/core/version.ts";
import { createGitHubRepository } from "../../src/git/github.ts";
import { isStatusPost, isTokenExchange, startFakeApi } from "../support/fake-api.ts";
import { testGitHubApp } from "../support/github-app.ts";
import { compiled } from "../support/instances.ts";

const fake = startFakeApi();
afterAll(() => fake.stop());
const app = testGitHubApp();
let minted: string[] = [];
beforeEach(() => {
  fake.reset();
  fake.setGitHubApp({ appId: app.appId, installationId: app.installationId, publicKey: app.publicKey });
  minted = [];
});

const credentials = (overrides: Partial<GitHubAppCredentials> = {}): GitHubAppCredentials => ({
  kind: "github-app",
  appId: app.appId,
  installationId: app.installationId,
  privateKey: app.privateKey,
  keys: { appId: "gitHubAppId", installationId: "gitHubAppInstallationId", privateKey: "gitHubAppPrivateKey" },
  onToken: (token) => void minted.push(token),
  ...overrides,
});
const repository = (app_ = credentials()) =>
  createGitHubRepository({ instance: { name: "apps-dev", gitHubOrgUrl: fake.orgUrl("org"), gitHubGitOpsManifestsRepoName: "manifests" }, credentials: app_, userAgent: USER_AGENT });
const signal = () => AbortSignal.timeout(5_000);
const job: StatusJobPayload = {
  commit: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
  operator: "FLUX",
  genre: "Kustomization",
  reconciler: "Kustomization/flux-system/apps",
  status: { context: "kustomization/apps", name: "Status", state: "ReconciliationSucceeded", description: "done" },
  callbackUrl: "https://github.com/org/manifests/commit",
  statusContext: "default",
};

async function failureOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DeliveryError) return error;
    throw error;
  }
  throw new Error("expected a DeliveryError");
}

describe("installation tokens", () => {
  test("the first call mints a token with the app's JWT; the next calls reuse it", async () => {
    const repo = repository();
    await repo.postStatus(job, signal());
    await repo.postStatus(job, signal());
    await repo.readCommitMessage(job.commit, signal());
    expect(fake.requests(isTokenExchange)).toHaveLength(1);
    const [exchange] = fake.requests(isTokenExchange);
    expect(exchange?.path).toBe(`/app/installations/${app.installationId}/access_tokens`);
    expect(exchange?.headers.authorization).toMatch(/^bearer eyJ/i);
    const [token] = fake.issuedTokens();
    expect(fake.requests((request) => !isTokenExchange(request)).map((request) => request.headers.authorization)).toEqual([`token ${token}`, `token ${token}`, `token ${token}`]);
    expect(minted).toEqual([token!]);
  });

  test("a token that expires within the margin is not used: a new one is minted", async () => {
    fake.setGitHubApp({ appId: app.appId, installationId: app.installationId, publicKey: app.publicKey, tokenLifetimeMs: TOKEN_EXPIRY_MARGIN_MS - 60_000 });
    const repo = repository();
    await repo.postStatus(job, signal());
    await repo.postStatus(job, signal());
    expect(fake.issuedTokens()).toHaveLength(2);
    expect(fake.requests(isStatusPost).map((request) => request.headers.authorization)).toEqual(fake.issuedTokens().map((token) => `token ${token}`));
  });

  test("a 401 mints a new token and tries once more; a second 401 is an auth failure naming the app's key", async () => {
    const repo = repository();
    await repo.postStatus(job, signal());
    fake.revokeTokens(); // rotated or revoked early: GitHub says Bad credentials
    await repo.postStatus(job, signal());
    expect(fake.issuedTokens()).toHaveLength(2);
    expect(fake.requests(isStatusPost).map((request) => request.answeredWith)).toEqual([201, 401, 201]);

    fake.failNext(2, { status: 401, body: { message: "Bad credentials" } }, isStatusPost);
    const error = await failureOf(repo.postStatus(job, signal()));
    expect(fake.issuedTokens()).toHaveLength(3); // refreshed once, not in a loop
    expect(error.permanent).toBe(true);
    expect(error.message).toContain("gitHubAppPrivateKey (GitHub App 123456, installation 7654321)");
  });

  test("concurrent calls share one exchange", async () => {
    const repo = repository();
    await Promise.all(Array.from({ length: 8 }, () => repo.postStatus(job, signal())));
    expect(fake.requests(isTokenExchange)).toHaveLength(1);
    expect(fake.requests(isStatusPost)).toHaveLength(8);
  });

  test("an unknown installation and a key GitHub does not accept are permanent, named, and show no secret", async () => {
    const missing = await failureOf(repository(credentials({ installationId: "1" })).postStatus(job, signal()));
    expect(missing.permanent).toBe(true);
    expect(missing.message).toContain("GitHub App 123456 has no installation 1 (check gitHubAppId and gitHubAppInstallationId");
    const other = testGitHubApp("999");
    const refused = await failureOf(repository(credentials({ appId: other.appId })).postStatus(job, signal()));
    expect(refused.permanent).toBe(true);
    expect(refused.message).toContain("check gitHubAppPrivateKey");
    expect(fake.requests(isStatusPost)).toHaveLength(0);
    for (const message of [missing.message, refused.message]) {
      for (const line of app.privateKey.split("\n").filter((text) => text.length > 20)) expect(message).not.toContain(line);
    }
  });

  test("the token source alone: cached until the margin, refresh() always mints", async () => {
    let now = Date.now();
    const tokens = createInstallationTokens({ credentials: credentials(), baseUrl: fake.url, userAgent: USER_AGENT, instance: "apps-dev", now: () => now });
    const first = await tokens.token();
    expect(await tokens.token()).toBe(first);
    now += 3_600_000 - TOKEN_EXPIRY_MARGIN_MS + 1_000; // five minutes before the hour is up
    const second = await tokens.token();
    expect(second).not.toBe(first);
    expect(await tokens.refresh()).not.toBe(second);
    expect(fake.issuedTokens()).toEqual([first, second, fake.issuedTokens()[2]!]);
  });
});

describe("GitHub App config keys", () => {
  const base = {
    name: "apps-dev",
    gitOpsOperatorType: "FLUX",
    gitRepositoryType: "GITHUB",
    ciCdOrchestratorType: "GITHUB",
    gitOpsAppURL: "https://github.com/org/manifests/commit",
    gitHubOrgUrl: "https://api.github.com/repos/org",
    gitHubGitOpsManifestsRepoName: "manifests",
    gitHubGitOpsRepoName: "app-src",
  };
  const appKeys = { gitHubAppId: 123456, gitHubAppInstallationId: "7654321", gitHubAppPrivateKey: app.privateKey };
  const problems = (input: object) => {
    const result = v.safeParse(InstanceConfig, input);
    return result.success ? [] : result.issues.map((issue) => `${v.getDotPath(issue)}: ${issue.message}`);
  };

  test("an app instead of pat: no token missing, for the repository or for GitHub Actions, which shares it", () => {
    const instance = v.parse(InstanceConfig, { ...base, ...appKeys });
    expect(instance.gitHubAppId).toBe("123456");
    expect(missingTokens([instance])).toEqual([]);
    expect(describeInstance(instance)).toBe("apps-dev: FLUX → GITHUB org/manifests (GitHub App 123456) → GITHUB org/app-src, 0 subscribers");
    const made = compiled(instance);
    expect(made.repository.target).toBe("github:api.github.com/repos/org/manifests");
    // Without an app key, a pat is still required.
    expect(missingTokens([v.parse(InstanceConfig, base)]).map((error) => error.path.join("."))).toEqual(["instances.0.pat", "instances.0.orchestratorPat"]);
    // With its own orchestratorPat, GitHub Actions uses that instead of the app.
    expect(missingTokens([v.parse(InstanceConfig, { ...base, ...appKeys, orchestratorPat: "ghp_orchestratorToken000" })])).toEqual([]);
  });

  test("all three keys or none; not together with pat; a key Node cannot read is refused without being shown", () => {
    expect(problems({ ...base, gitHubAppId: 1 })).toEqual([
      "gitHubAppInstallationId: required with the other GitHub App keys (gitHubAppId, gitHubAppInstallationId, gitHubAppPrivateKey)",
      "gitHubAppPrivateKey: required with the other GitHub App keys (gitHubAppId, gitHubAppInstallationId, gitHubAppPrivateKey)",
    ]);
    expect(problems({ ...base, ...appKeys, pat: "ghp_alsoAToken0000000" })).toEqual(["pat: give pat or a GitHub App (gitHubAppId, …), not both"]);
    const broken = problems({ ...base, ...appKeys, gitHubAppPrivateKey: "-----BEGIN RSA PRIVATE KEY-----\nnot-a-key-at-all-but-long\n-----END RSA PRIVATE KEY-----" });
    expect(broken).toEqual([expect.stringContaining("gitHubAppPrivateKey: is not a private key in PEM form")]);
    expect(broken.join("")).not.toContain("not-a-key-at-all");
    expect(problems({ ...base, ...appKeys, gitHubAppId: "abc" })).toEqual(["gitHubAppId: must be the GitHub App's id, a whole number"]);
  });

  test("GitHub Actions with an app of its own", () => {
    const instance = v.parse(InstanceConfig, {
      ...base,
      pat: "ghp_repositoryToken0000",
      orchestratorGitHubAppId: "42",
      orchestratorGitHubAppInstallationId: "43",
      orchestratorGitHubAppPrivateKey: app.privateKey,
    });
    expect(missingTokens([instance])).toEqual([]);
    expect(describeInstance(instance)).toContain("→ GITHUB org/app-src (GitHub App 42)");
  });
});
