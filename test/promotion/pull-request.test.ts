import { describe, expect, test } from "bun:test";
import { matchesReconciler } from "../../src/promotion/commands.ts";
import { parseGoDuration, readPromotionConfig, reconcilerContext } from "../../src/promotion/config.ts";
import { promotionBody, promotionBranch, promotionTitle, readPromotionBody, type PromotionState } from "../../src/promotion/pull-request.ts";

const STATE: PromotionState = { group: "apps", app: "web", tag: "v2.0.0", env: "qa", sha: "a".repeat(40), feature: "", type: "promote" };

/** What gitops-promotion 2dad762 (pkg/git/pull_request.go, Description()) writes for the same state, byte for byte. */
const THEIR_BODY = `<!-- metadata = {"group":"apps","app":"web","tag":"v2.0.0","env":"qa","sha":"${"a".repeat(40)}","feature":"","type":"promote"} -->\n\tENV: qa\n\tAPP: web\n\tTAG: v2.0.0`;

describe("the PR format of gitops-promotion", () => {
  test("title, body and branches are byte-identical to theirs", () => {
    expect(promotionTitle(STATE)).toBe("Promote apps/web version v2.0.0 to environment qa");
    expect(promotionBody(STATE)).toBe(THEIR_BODY);
    expect(promotionBranch(STATE, "per-app")).toBe("promote/apps-web");
    expect(promotionBranch(STATE, "per-env")).toBe("promote/qa/apps-web");
  });

  test("a feature PR is titled and branched as theirs", () => {
    const feature: PromotionState = { ...STATE, type: "feature", feature: "login" };
    expect(promotionTitle(feature)).toBe("Review apps/web feature v2.0.0 in environment qa");
    expect(promotionBranch(feature, "per-app")).toBe("feature/apps-web-login");
  });

  test("our extra key goes after type; Go's HTML escaping is kept", () => {
    const body = promotionBody({ ...STATE, tag: "a<b>&c", digest: `sha256:${"d".repeat(64)}` });
    expect(body.split("\n")[0]).toBe(`<!-- metadata = {"group":"apps","app":"web","tag":"a\\u003cb\\u003e\\u0026c","env":"qa","sha":"${"a".repeat(40)}","feature":"","type":"promote","digest":"sha256:${"d".repeat(64)}"} -->`);
    expect(readPromotionBody(body)?.tag).toBe("a<b>&c");
  });

  test("reads their body, one written before `type` existed, and ours", () => {
    expect(readPromotionBody(THEIR_BODY)).toEqual(STATE);
    expect(readPromotionBody(`<!-- metadata = {"env":"dev","group":"apps","app":"web","tag":"1","sha":"b"} -->\n\tENV: dev`)).toEqual({
      group: "apps", app: "web", tag: "1", env: "dev", sha: "b", feature: "", type: "promote",
    });
    expect(readPromotionBody(promotionBody({ ...STATE, digest: "sha256:1" }))?.digest).toBe("sha256:1");
  });

  test("a body without metadata is none; broken metadata is an error", () => {
    expect(readPromotionBody("Fix the ingress")).toBeUndefined();
    expect(readPromotionBody(null)).toBeUndefined();
    expect(() => readPromotionBody("<!-- metadata = {nope -->")).toThrow("not valid JSON");
  });
});

describe("gitops-promotion.yaml", () => {
  test("their keys, defaults, and unknown keys ignored", () => {
    const config = readPromotionConfig("environments:\n  - name: dev\n    auto: true\n  - name: qa\n  - name: prod\n    auto: false\nsomethingElse: 1\n");
    expect(config).toEqual({
      environments: [{ name: "dev", auto: true }, { name: "qa", auto: false }, { name: "prod", auto: false }],
      prflow: "per-app", statusTimeoutMs: 300_000, groups: {}, baseBranch: "main", mergeMethod: "merge", reconciler: "kustomization/{group}-{env}",
    });
  });

  test("our extensions under x-gitops-connector", () => {
    const config = readPromotionConfig("environments: [{name: dev}]\nprflow: per-env\nstatus_timeout_minutes: 1h30m\nx-gitops-connector:\n  baseBranch: trunk\n  mergeMethod: squash\n  reconciler: kustomization/{env}-{group}\n");
    expect([config.prflow, config.statusTimeoutMs, config.baseBranch, config.mergeMethod]).toEqual(["per-env", 5_400_000, "trunk", "squash"]);
    expect(reconcilerContext(config, "apps", "dev")).toBe("kustomization/dev-apps");
  });

  test("a bare number is minutes, with a warning", () => {
    const warnings: string[] = [];
    expect(readPromotionConfig("environments: [{name: dev}]\nstatus_timeout_minutes: 10\n", (message) => warnings.push(message)).statusTimeoutMs).toBe(600_000);
    expect(warnings[0]).toContain('write "10m"');
  });

  test("errors name the key", () => {
    expect(() => readPromotionConfig("environments: []\n")).toThrow("gitops-promotion.yaml environments: environments list cannot be empty");
    expect(() => readPromotionConfig("environments: [{name: dev}]\nprflow: sideways\n")).toThrow("prflow is per-app or per-env");
    expect(() => readPromotionConfig("environments: [{name: dev}, {name: dev}]\n")).toThrow("dev is listed twice");
    expect(() => readPromotionConfig("environments: [{name: dev}]\nstatus_timeout_minutes: soon\n")).toThrow("not a duration");
    expect(() => readPromotionConfig("environments: [\n")).toThrow("not valid YAML");
  });

  test("Go durations", () => {
    expect(parseGoDuration("5m")).toBe(300_000);
    expect(parseGoDuration("1.5h")).toBe(5_400_000);
    expect(parseGoDuration("90s")).toBe(90_000);
    expect(parseGoDuration("5")).toBeUndefined();
    expect(parseGoDuration("5 minutes")).toBeUndefined();
  });
});

describe("which status is the previous environment's reconciler", () => {
  test("exactly the context, Flux's /<8 hex>, or our /<environment>; never a part context or another group", () => {
    const wanted = "kustomization/apps-dev";
    expect(matchesReconciler("kustomization/apps-dev", wanted, undefined)).toBe(true);
    expect(matchesReconciler("kustomization/apps-dev/0a1b2c3d", wanted, undefined)).toBe(true);
    expect(matchesReconciler("kustomization/apps-dev/eu-west", wanted, "eu-west")).toBe(true);
    expect(matchesReconciler("kustomization/apps-dev/eu-west", wanted, undefined)).toBe(false);
    expect(matchesReconciler("kustomization/apps-dev/deployment", wanted, "eu-west")).toBe(false);
    expect(matchesReconciler("kustomization/apps-dev/0A1B2C3D", wanted, undefined)).toBe(false);
    expect(matchesReconciler("kustomization/apps-dev-2", wanted, undefined)).toBe(false);
    expect(matchesReconciler("helmrelease/apps-dev", wanted, undefined)).toBe(false);
  });
});
