/**
 * The deployments page in a real browser: Debian's Chromium driven by playwright-core, against the real daemon
 * (the compiled binary under GITOPS_CONNECTOR_BIN) delivering to the stateful fake GitHub. A webhook sent after
 * the page loaded shows in the grid within a second, without a reload; a commit moves from in progress to
 * succeeded live; a dead job shows its error and its retry command; the keyboard reaches every control; axe-core
 * finds no serious violation; the JavaScript-less page is a snapshot. A screenshot goes to $SCREENSHOT_DIR
 * (.ci/run sets .ci/out). Chromium comes from Debian (test/support/tools.ts installs it as root); without it
 * this fails, saying how to install it; it never skips.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startDaemon } from "../support/daemon.ts";
import { startFakeGitHub } from "../support/fake-github-git.ts";
import { GITHUB_TOKEN, promotionModel } from "../support/promotion-repo.ts";
import { chromiumPath } from "../support/tools.ts";

const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), "screenshots-"));
const FIXTURES = join(import.meta.dir, "..", "fixtures", "flux");
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), "utf8"));
const AXE = readFileSync(join(import.meta.dir, "..", "..", "node_modules", "axe-core", "axe.min.js"), "utf8");

const fake = startFakeGitHub(promotionModel());
const dir = mkdtempSync(join(tmpdir(), "browser-daemon-"));
const configPath = join(dir, "config.yaml");
writeFileSync(configPath, `server: { host: 127.0.0.1 }
outbox: { initialBackoffMs: 50, maxBackoffMs: 100, maxAttempts: 2 }
instances:
${["dev", "qa", "prod"].map((env) => `  - name: apps-${env}
    environment: ${env}
    gitOpsOperatorType: FLUX
    gitRepositoryType: GITHUB
    ciCdOrchestratorType: NONE
    gitOpsAppURL: https://github.com/org/manifests/commit
    gitHubOrgUrl: ${fake.url}/repos/org
    gitHubGitOpsManifestsRepoName: manifests
    pat: \${PAT}`).join("\n")}
`);

let browser: Browser;
let daemon: Awaited<ReturnType<typeof startDaemon>>;
beforeAll(async () => {
  const executablePath = chromiumPath();
  daemon = await startDaemon({ configPath, dryRun: false, env: { PAT: GITHUB_TOKEN } });
  // The flags this machine's closed network needs (no background connections, no QUIC); root needs --no-sandbox.
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
afterAll(async () => {
  await browser?.close();
  daemon?.proc.kill();
  fake.stop();
});

async function flux(instance: string, file: string, commit: string) {
  const event = fixture(file);
  const response = await fetch(`${daemon.url}/gitopsphase/${instance}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...event, metadata: { ...event.metadata, revision: `main@sha1:${commit}`, gitops_connector_config_name: instance } }),
  });
  expect(response.status).toBe(202);
}

/** `bypassCSP`: only to inject axe-core, which the page's own policy (script-src 'self') rightly refuses. */
async function openPage(javaScriptEnabled = true, bypassCSP = false, beforeLoad?: (page: Page) => Promise<void>): Promise<Page> {
  const context = await browser.newContext({ javaScriptEnabled, bypassCSP, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await beforeLoad?.(page);
  await page.goto(`${daemon.url}/`);
  return page;
}

const A = "a1".repeat(20);
const B = "b2".repeat(20);

describe("the deployments page in Chromium", () => {
  test("a webhook sent after load shows in the grid within a second, and moves from in progress to succeeded, without a reload", async () => {
    const page = await openPage();
    await page.waitForFunction(() => document.getElementById("updated")?.textContent?.startsWith("Live"), undefined, { timeout: 5_000 });
    const navigations: string[] = [];
    page.on("framenavigated", (frame) => navigations.push(frame.url()));

    const sent = Date.now();
    await flux("apps-dev", "kustomization-progressing.json", A);
    await page.locator(`tr[data-commit="${A}"] td[data-instance="apps-dev"][data-state="progressing"]`).waitFor({ timeout: 1_000 });
    expect(Date.now() - sent).toBeLessThan(1_000);
    expect(await page.locator(`tr[data-commit="${A}"] td[data-instance="apps-dev"] .word`).textContent()).toBe("in progress");

    await flux("apps-dev", "kustomization-reconciliation-succeeded.json", A);
    await page.locator(`tr[data-commit="${A}"] td[data-instance="apps-dev"][data-state="succeeded"]`).waitFor({ timeout: 1_000 });
    expect(await page.locator(`tr[data-commit="${A}"] td[data-instance="apps-dev"]`).innerText()).toContain("1/1 healthy");
    expect(navigations).toEqual([]);
  }, 15_000);

  test("a dead job shows its error and the outbox retry command, even when it died before the live stream connected", async () => {
    // The page's event stream is held back until the job has died, so only a resume from the rendered snapshot's
    // change can tell the page about it.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const page = await openPage(true, false, async (page) => {
      await page.route("**/api/events*", async (route) => {
        await held;
        await route.continue();
      });
    });
    // GitHub refuses the status for good: the job is dead at once.
    fake.failNext(/statuses\//, 422, {}, "Validation Failed: No commit found for SHA");
    await flux("apps-qa", "kustomization-reconciliation-succeeded.json", B);
    for (;;) {
      const deployment = (await (await fetch(`${daemon.url}/api/deployments/apps-qa/${B}`)).json()) as { deadJobs?: unknown[] };
      if ((deployment.deadJobs ?? []).length > 0) break;
      await Bun.sleep(20);
    }
    release();
    const dead = page.locator("ul.dead li").first();
    await dead.waitFor({ timeout: 5_000 });
    const text = await dead.innerText();
    expect(text).toContain("No commit found for SHA");
    expect(text).toMatch(/Replay it: gitops-connector outbox retry \d+/);
  }, 15_000);

  test("the keyboard reaches the skip link, every filter and the commit links; axe-core finds no serious violation; a screenshot is kept", async () => {
    const page = await openPage(true, true);
    const order: string[] = [];
    for (let n = 0; n < 8; n += 1) {
      await page.keyboard.press("Tab");
      order.push(await page.evaluate(() => {
        const element = document.activeElement as HTMLElement | null;
        return element ? `${element.tagName.toLowerCase()}${element.getAttribute("name") ? `[${element.getAttribute("name")}]` : ""}:${(element.textContent ?? "").trim().slice(0, 30)}` : "none";
      }));
    }
    expect(order[0]).toBe("a:Skip to the deployments");
    expect(order.slice(1, 5).map((entry) => entry.split(":")[0])).toEqual(["select[instance]", "select[env]", "select[state]", "button"]);
    expect(order.some((entry) => entry.startsWith("a:") && /[0-9a-f]{7}/.test(entry))).toBe(true);

    await page.addScriptTag({ content: AXE });
    const violations = await page.evaluate(async () => {
      const result = await (window as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; help: string; nodes: unknown[] }[] }> } }).axe.run();
      return result.violations.map((violation) => ({ id: violation.id, impact: violation.impact, help: violation.help, nodes: violation.nodes.length }));
    });
    expect(violations.filter((violation) => violation.impact === "serious" || violation.impact === "critical")).toEqual([]);

    mkdirSync(SCREENSHOTS, { recursive: true });
    const path = join(SCREENSHOTS, "deployments-page.png");
    await page.screenshot({ path, fullPage: true });
    expect(existsSync(path)).toBe(true);
  }, 15_000);

  test("everything the grid shows is also in GET /api/deployments", async () => {
    const page = await openPage();
    const cells = await page.locator("td[data-instance]").evaluateAll((elements) =>
      elements.map((element) => `${element.closest("tr")?.getAttribute("data-commit")} ${element.getAttribute("data-instance")} ${element.getAttribute("data-state")} ${element.querySelector(".detail")?.textContent}`),
    );
    const { deployments } = (await (await fetch(`${daemon.url}/api/deployments?limit=200`)).json()) as { deployments: { commit: string; instance: string; state: string; healthy: { succeeded: number; total: number } }[] };
    expect(cells.length).toBeGreaterThanOrEqual(2);
    expect(cells.sort()).toEqual(deployments.map((d) => `${d.commit} ${d.instance} ${d.state} ${d.healthy.succeeded}/${d.healthy.total} healthy`).sort());
  });

  test("without JavaScript the page is a snapshot of the same grid", async () => {
    const page = await openPage(false);
    expect(await page.locator(`tr[data-commit="${A}"] td[data-instance="apps-dev"] .word`).textContent()).toBe("succeeded");
    expect(await page.locator("#updated").textContent()).toStartWith("Snapshot of ");
  });
});
