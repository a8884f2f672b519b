import { describe, expect, test } from "bun:test";
import { formatPath } from "../../src/schema/errors.ts";
import { validateConfigFile } from "../../src/config/validate.ts";

const github = {
  name: "apps-dev",
  gitOpsOperatorType: "FLUX",
  gitRepositoryType: "GITHUB",
  ciCdOrchestratorType: "NONE",
  gitOpsAppURL: "https://github.com/contoso/gitops-manifests/commit",
  gitHubOrgUrl: "https://api.github.com/repos/contoso",
  gitHubGitOpsManifestsRepoName: "gitops-manifests",
};

const azdo = {
  name: "payments-prod",
  gitOpsOperatorType: "ARGOCD",
  gitRepositoryType: "AZDO",
  ciCdOrchestratorType: "AZDO",
  gitOpsAppURL: "https://argocd.example.com/applications/payments-prod",
  azdoOrgUrl: "https://dev.azure.com/contoso/payments",
  azdoGitOpsRepoName: "payments-manifests",
};

/** `path: message` lines, or [] when valid. */
function errorsOf(raw: unknown): string[] {
  const result = validateConfigFile(raw);
  return result.ok ? [] : result.errors.map((error) => `${formatPath(error.path)}: ${error.message}`);
}

function valid(raw: unknown) {
  const result = validateConfigFile(raw);
  if (!result.ok) throw new Error(result.errors.map((e) => `${formatPath(e.path)}: ${e.message}`).join("\n"));
  return result.value;
}

describe("defaults", () => {
  test("every section and optional instance key is defaulted", () => {
    const config = valid({ instances: [github] });
    expect(config.server).toEqual({ host: "0.0.0.0", port: 8080, maxBodyBytes: 1_048_576, shutdownGraceMs: 10_000 });
    expect(config.outbox).toEqual({
      driver: "sqlite",
      listen: true,
      path: "outbox.db",
      maxDepth: 10_000,
      maxAttempts: 10,
      initialBackoffMs: 1_000,
      maxBackoffMs: 300_000,
      concurrency: 8,
      timeoutMs: 10_000,
      synchronous: "normal",
    });
    expect(config.scheduler).toEqual({ abandonedPrSweepSeconds: 30, abandonedPrCutoffHours: 72, pruneDoneAfterHours: 24, promotionReconcileSeconds: 60 });
    expect(config.hmacKeys).toEqual([]);
    expect(config.bearerTokens).toEqual([]);
    expect(config.logLevel).toBeUndefined();
    const [instance] = config.instances;
    expect(instance).toMatchObject({
      default: false,
      subscribers: {},
      statusContext: "default",
      dispatchOnFailure: false,
      completionReconcilers: ["*"],
    });
    expect(instance?.commitMessagePattern).toBeUndefined();
    expect(instance?.pat).toBeUndefined();
  });

  test("empty sections (`auth:` with nothing under it) take their defaults", () => {
    const config = valid({ server: null, auth: null, outbox: null, scheduler: null, instances: [{ ...github, subscribers: null }] });
    expect(config.server.port).toBe(8080);
    expect(config.instances[0]?.subscribers).toEqual({});
  });

  test("orchestratorPat defaults to pat and azdoPrRepoName to azdoGitOpsRepoName", () => {
    const [instance] = valid({ instances: [{ ...azdo, pat: "azdo-token" }] }).instances;
    expect(instance?.orchestratorPat).toBe("azdo-token");
    expect(instance?.azdoPrRepoName).toBe("payments-manifests");
    const [explicit] = valid({ instances: [{ ...azdo, pat: "token-aaaa", orchestratorPat: "token-bbbb", azdoPrRepoName: "hld" }] }).instances;
    expect(explicit?.orchestratorPat).toBe("token-bbbb");
    expect(explicit?.azdoPrRepoName).toBe("hld");
  });

  test("a fresh default list per load, so one config cannot change another's", () => {
    const first = valid({ instances: [github] });
    first.instances[0]?.completionReconcilers.push("mutated");
    expect(valid({ instances: [github] }).instances[0]?.completionReconcilers).toEqual(["*"]);
  });

  test("numbers and booleans accept their string spelling (expanded values are strings)", () => {
    const config = valid({ server: { port: "9090" }, instances: [{ ...github, default: "true", dispatchOnFailure: "false" }] });
    expect(config.server.port).toBe(9090);
    expect(config.instances[0]?.default).toBe(true);
    expect(config.instances[0]?.dispatchOnFailure).toBe(false);
  });

  test("empty strings in optional keys count as not set (Helm values default to \"\")", () => {
    const [instance] = valid({ instances: [{ ...github, azdoOrgUrl: "", azdoPrRepoName: "", pat: "" }] }).instances;
    expect(instance?.azdoOrgUrl).toBeUndefined();
    expect(instance?.pat).toBeUndefined();
  });
});

describe("auth", () => {
  test("single keys and lists merge; empty values and duplicates are dropped", () => {
    const config = valid({
      auth: { hmacKey: "hmac-key-1", hmacKeys: ["hmac-key-2", "", "hmac-key-1"], bearerToken: "", bearerTokens: ["bearer-token-1"] },
      instances: [github],
    });
    expect(config.hmacKeys).toEqual(["hmac-key-1", "hmac-key-2"]);
    expect(config.bearerTokens).toEqual(["bearer-token-1"]);
  });
});

describe("environment", () => {
  test("is a context segment: no slashes, and not with legacy contexts", () => {
    expect(valid({ instances: [{ ...github, environment: "prod-eu" }] }).instances[0]?.environment).toBe("prod-eu");
    expect(errorsOf({ instances: [{ ...github, environment: "prod/eu" }] })).toEqual([
      "instances[0].environment: must start with a letter or digit and contain only letters, digits, '.', '_' and '-' (it becomes a segment of each status context)",
    ]);
    expect(errorsOf({ instances: [{ ...github, environment: "prod", statusContext: "legacy" }] })).toEqual([
      "instances[0].environment: cannot go with statusContext: legacy, whose bare context names (Status, Phase, …) have no room for it; remove one of them",
    ]);
  });
});

describe("an instance's own webhook keys", () => {
  test("merge like the global ones, and are absent unless given", () => {
    const config = valid({ auth: { hmacKey: "global-key" }, instances: [{ ...github, auth: { hmacKey: "instance-1", hmacKeys: ["instance-2"], bearerTokens: ["instance-bearer"] } }, { ...azdo, name: "other" }] });
    expect(config.instances[0]?.auth).toEqual({ hmacKeys: ["instance-1", "instance-2"], bearerTokens: ["instance-bearer"] });
    expect(config.instances[1]?.auth).toBeUndefined();
  });

  test("keys that are all empty are an error, not authentication silently turned off", () => {
    expect(errorsOf({ instances: [{ ...github, auth: { hmacKey: "", bearerTokens: [""] } }] })).toEqual([
      "instances[0].auth: has no key or token (all empty); set one, or remove auth to use the global auth",
    ]);
    expect(errorsOf({ instances: [{ ...github, auth: null }] })).toEqual([
      "instances[0].auth: is empty; give it hmacKey(s) or bearerToken(s), or remove it to use the global auth",
    ]);
    expect(errorsOf({ instances: [{ ...github, auth: { hmacKy: "x" } }] })).toEqual(["instances[0].auth.hmacKy: unknown key; did you mean hmacKey?"]);
  });

  test("a token shorter than 8 characters is an error that shows its length, never its value", () => {
    expect(errorsOf({ auth: { bearerTokens: ["x"] }, instances: [{ ...github, pat: "abc" }] })).toEqual([
      "auth.bearerTokens[0]: is 1 characters; a token that short would be redacted everywhere it appears in the logs: use a real one (at least 8 characters)",
      "instances[0].pat: is 3 characters; a token that short would be redacted everywhere it appears in the logs: use a real one (at least 8 characters)",
    ]);
  });
});

describe("cross-field rules", () => {
  const cases: [string, Record<string, unknown>, string[]][] = [
    [
      "gitRepositoryType AZDO needs azdoOrgUrl and azdoGitOpsRepoName",
      { ...azdo, ciCdOrchestratorType: "NONE", azdoOrgUrl: undefined, azdoGitOpsRepoName: undefined },
      [
        "instances[1].azdoOrgUrl: required when gitRepositoryType is AZDO",
        "instances[1].azdoGitOpsRepoName: required when gitRepositoryType is AZDO",
      ],
    ],
    [
      "gitRepositoryType GITHUB needs gitHubOrgUrl and gitHubGitOpsManifestsRepoName",
      { ...github, gitHubOrgUrl: undefined, gitHubGitOpsManifestsRepoName: undefined },
      [
        "instances[1].gitHubOrgUrl: required when gitRepositoryType is GITHUB",
        "instances[1].gitHubGitOpsManifestsRepoName: required when gitRepositoryType is GITHUB",
      ],
    ],
    [
      "ciCdOrchestratorType GITHUB needs gitHubOrgUrl and gitHubGitOpsRepoName",
      { ...azdo, ciCdOrchestratorType: "GITHUB" },
      [
        "instances[1].gitHubOrgUrl: required when ciCdOrchestratorType is GITHUB",
        "instances[1].gitHubGitOpsRepoName: required when ciCdOrchestratorType is GITHUB",
      ],
    ],
    [
      "ciCdOrchestratorType AZDO needs azdoOrgUrl",
      { ...github, name: "x", ciCdOrchestratorType: "AZDO" },
      ["instances[1].azdoOrgUrl: required when ciCdOrchestratorType is AZDO"],
    ],
  ];

  for (const [title, instance, expected] of cases) {
    test(title, () => {
      const defined = Object.fromEntries(Object.entries(instance).filter(([, value]) => value !== undefined));
      const errors = errorsOf({ instances: [{ ...github, name: "first" }, defined] });
      expect(errors).toHaveLength(expected.length);
      expected.forEach((prefix, index) => {
        expect(errors[index]).toStartWith(prefix);
        expect(errors[index]).toContain("; set it to ");
      });
    });
  }

  test("a key two rules require is reported once, with the first reason", () => {
    const { gitHubOrgUrl: _, ...noOrg } = github;
    const errors = errorsOf({ instances: [{ ...noOrg, ciCdOrchestratorType: "GITHUB", gitHubGitOpsRepoName: "app-src" }] });
    expect(errors).toEqual([expect.stringMatching(/^instances\[0\]\.gitHubOrgUrl: required when gitRepositoryType is GITHUB/)]);
  });

  test("GitHub manifests driving Azure Pipelines (separate tokens) is valid", () => {
    valid({ instances: [{ ...github, ciCdOrchestratorType: "AZDO", azdoOrgUrl: azdo.azdoOrgUrl, pat: "ghp_github-token", orchestratorPat: "azdo-pipelines-token" }] });
  });

  test("duplicate names are reported on the repeat, naming the first", () => {
    expect(errorsOf({ instances: [github, azdo, { ...azdo }] })).toEqual([
      'instances[2].name: duplicate instance name "payments-prod" (also instances[1].name); give each instance a unique name',
    ]);
  });

  test("more than one default is reported on every extra default", () => {
    const errors = errorsOf({ instances: [{ ...github, default: true }, { ...azdo, default: true }, { ...azdo, name: "c", default: true }] });
    expect(errors).toEqual([
      expect.stringMatching(/^instances\[1\]\.default: only one instance can be the default \(instances\[0\] already is\)/),
      expect.stringMatching(/^instances\[2\]\.default: only one instance can be the default/),
    ]);
  });

  test("outbox.maxBackoffMs below initialBackoffMs", () => {
    expect(errorsOf({ outbox: { initialBackoffMs: 5000, maxBackoffMs: 1000 }, instances: [github] })).toEqual([
      "outbox.maxBackoffMs: must be at least initialBackoffMs (5000); raise it or lower initialBackoffMs",
    ]);
  });
});

describe("field checks", () => {
  test("unknown keys are errors everywhere, each one reported, with a suggestion when close", () => {
    const errors = errorsOf({ servr: {}, outbox: { maxDepht: 5, colour: "red" }, instances: [{ ...github, orchestratorPAT: "x" }] });
    expect(errors).toContain("servr: unknown key; did you mean server?");
    expect(errors).toContain("outbox.maxDepht: unknown key; did you mean maxDepth?");
    expect(errors.find((e) => e.startsWith("outbox.colour: unknown key; remove it or use one of: driver, url, listen, path, maxDepth"))).toBeDefined();
    expect(errors).toContain("instances[0].orchestratorPAT: unknown key; did you mean orchestratorPat?");
  });

  test("required keys say what to set", () => {
    expect(errorsOf({ instances: [{ name: "a", gitRepositoryType: "GITHUB", ciCdOrchestratorType: "NONE", gitHubOrgUrl: github.gitHubOrgUrl, gitHubGitOpsManifestsRepoName: "m" }] })).toEqual([
      "instances[0].gitOpsOperatorType: required; set it to FLUX or ARGOCD",
      "instances[0].gitOpsAppURL: required; set it to the URL a commit status links to, e.g. https://github.com/org/manifests/commit",
    ]);
    expect(errorsOf({})).toEqual(["instances: required; set it to a list of instances (see config.example.yaml)"]);
    expect(errorsOf({ instances: [] })).toEqual(["instances: list at least one instance"]);
  });

  test("enum values are case-sensitive, with a hint", () => {
    expect(errorsOf({ instances: [{ ...github, ciCdOrchestratorType: "none" }] })).toEqual([
      'instances[0].ciCdOrchestratorType: must be GITHUB, AZDO or NONE (got "none"); write NONE',
    ]);
  });

  test("instance names must be usable in a URL path", () => {
    expect(errorsOf({ instances: [{ ...github, name: "apps/dev" }] })[0]).toStartWith("instances[0].name: must start with a letter or digit");
    valid({ instances: [{ ...github, name: "apps-dev.eu_1" }] });
  });

  test("URLs must be absolute http(s)", () => {
    expect(errorsOf({ instances: [{ ...github, gitHubOrgUrl: "api.github.com/repos/contoso", subscribers: { s: "ftp://x" } }] })).toEqual([
      "instances[0].gitHubOrgUrl: must be an absolute http(s) URL such as https://api.github.com/repos/org",
      "instances[0].subscribers.s: must be an absolute http(s) URL such as http://spektate:5000/api/flux",
    ]);
  });

  test("numbers are range-checked", () => {
    expect(errorsOf({ server: { port: 0, maxBodyBytes: 1.5 }, scheduler: { abandonedPrCutoffHours: -1 }, instances: [github] })).toEqual([
      "server.port: must be a whole number from 1 to 65535 (got 0)",
      "server.maxBodyBytes: must be a whole number of at least 1 (got 1.5)",
      "scheduler.abandonedPrCutoffHours: must be a number greater than 0 (got -1)",
    ]);
  });

  test("commitMessagePattern compiles to a RegExp with runid and sha groups", () => {
    const [instance] = valid({ instances: [{ ...github, commitMessagePattern: "deploy/(?<runid>[^/]+)/(?<sha>[0-9a-f]+)" }] }).instances;
    const match = instance?.commitMessagePattern?.exec("infra/deploy/42/abc123/x");
    expect(match?.groups).toEqual({ runid: "42", sha: "abc123" });
  });

  test("commitMessagePattern that does not compile or lacks a group", () => {
    const errors = errorsOf({ instances: [{ ...github, commitMessagePattern: "(" }, { ...azdo, commitMessagePattern: "(?<runid>.+)" }] });
    expect(errors[0]).toStartWith("instances[0].commitMessagePattern: is not a valid regular expression (");
    expect(errors[1]).toStartWith("instances[1].commitMessagePattern: needs the named group (?<sha>…)");
  });

  test("completionReconcilers must list at least one glob", () => {
    expect(errorsOf({ instances: [{ ...github, completionReconcilers: [] }] })[0]).toStartWith("instances[0].completionReconcilers: list at least one glob");
    expect(valid({ instances: [{ ...github, completionReconcilers: ["kustomization/apps-*"] }] }).instances[0]?.completionReconcilers).toEqual([
      "kustomization/apps-*",
    ]);
  });

  test("a wrongly typed token is described by its type, never shown", () => {
    const errors = errorsOf({ auth: { hmacKeys: [987654321] }, instances: [{ ...github, pat: 123456789, orchestratorPat: ["ghp_listed"] }] });
    expect(errors).toEqual([
      "auth.hmacKeys[0]: must be a token given as quoted text (got a number)",
      "instances[0].pat: must be a token given as quoted text (got a number)",
      "instances[0].orchestratorPat: must be a token given as quoted text (got a list)",
    ]);
  });
});

describe("promotion on an instance", () => {
  test("off by default; enabled and api on GitHub with a bearer token are valid and described", async () => {
    expect(valid({ instances: [github] }).instances[0]!.promotion).toEqual({ enabled: false, api: false });
    const config = valid({ auth: { bearerToken: "token-0123456789" }, instances: [{ ...github, promotion: { enabled: true, api: true } }] });
    const { describeInstance } = await import("../../src/config/describe.ts");
    expect(describeInstance(config.instances[0]!)).toBe("apps-dev: FLUX → GITHUB contoso/gitops-manifests → NONE, 0 subscribers; promotion: promotes on success, POST /api/promotions");
  });

  test("errors: a provider without pull requests here, Argo CD, legacy contexts, the API without a token, a misspelt key", () => {
    const gitea = { ...github, gitRepositoryType: "GITEA", giteaOrgUrl: "https://gitea.example.com/api/v1/repos/org", giteaGitOpsManifestsRepoName: "m" };
    for (const key of Object.keys(github)) if (key.startsWith("gitHub")) delete (gitea as Record<string, unknown>)[key];
    expect(errorsOf({ instances: [{ ...gitea, promotion: { enabled: true } }] })).toContain("instances[0].promotion: promotion opens pull requests, which this build does on GITHUB or AZDO only; remove promotion or use one of them");
    expect(errorsOf({ instances: [{ ...azdo, promotion: { enabled: true } }] })).toEqual([
      "instances[0].promotion.enabled: advances on Flux Kustomization reconciles (kustomization/{group}-{env}); Argo CD instances cannot drive it",
    ]);
    expect(errorsOf({ instances: [{ ...github, statusContext: "legacy", promotion: { enabled: true } }] })).toEqual([
      "instances[0].promotion.enabled: needs the default status contexts (kustomization/{group}-{env}), not statusContext: legacy",
    ]);
    expect(errorsOf({ instances: [{ ...github, promotion: { api: true } }] })).toEqual([
      "instances[0].promotion.api: opens POST /api/promotions, which must be authenticated: set auth.bearerToken on the instance or globally",
    ]);
    expect(errorsOf({ instances: [{ ...github, promotion: { enable: true } }] })[0]).toStartWith("instances[0].promotion.enable:");
  });
});

describe("outbox.driver", () => {
  test("postgres needs a postgres:// url, which is a secret; sqlite takes none", async () => {
    expect(valid({ outbox: { driver: "postgres", url: "postgres://gitops:s3cret-password@db:5432/gitops" }, instances: [github] }).outbox).toMatchObject({ driver: "postgres", url: "postgres://gitops:s3cret-password@db:5432/gitops" });
    expect(errorsOf({ outbox: { driver: "postgres" }, instances: [github] })).toEqual(['outbox.url: required with driver: postgres; set it to postgres://user:password@host:5432/database (better "${file:/run/secrets/outbox-url}")']);
    expect(errorsOf({ outbox: { driver: "postgres", url: "mysql://db" }, instances: [github] })).toEqual(["outbox.url: must be a postgres:// or postgresql:// URL"]);
    expect(errorsOf({ outbox: { url: "postgres://db" }, instances: [github] })).toEqual(["outbox.url: is read only with driver: postgres; set driver: postgres or remove url"]);
  });
});
