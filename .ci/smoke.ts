/**
 * Smoke test of the compiled binary, as a user would run it: `serve --dry-run` on a free port with
 * config.example.yaml, POST a Flux fixture, expect 202 and a dry-run job line, SIGTERM, expect exit 0.
 * Prints one `ok …` / `not ok …` line per check (TAP-like); exits 1 when any check failed.
 */
const binary = process.argv[2] ?? "dist/gitops-connector";
const results: string[] = [];
const check = (name: string, ok: boolean, detail = "") => {
  results.push(`${ok ? "ok" : "not ok"} ${results.length + 1} ${name}${ok || !detail ? "" : ` — ${detail}`}`);
  console.log(results.at(-1));
};

const proc = Bun.spawn([binary, "serve", "--dry-run", "--port", "0", "--config", "config.example.yaml", "--data-dir", ".ci/out/data"], {
  stdout: "pipe",
  stderr: "inherit",
  env: { PATH: process.env.PATH ?? "" },
});
const lines: string[] = [];
const reader = (async () => {
  let buffered = "";
  for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
    buffered += new TextDecoder().decode(chunk);
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    lines.push(...parts);
  }
})();
const waitFor = async (predicate: (line: string) => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = lines.find(predicate);
    if (found) return found;
    await Bun.sleep(20);
  }
  return undefined;
};

try {
  const listening = await waitFor((line) => line.includes("gitops-connector listening"));
  check("binary starts serve --dry-run and logs its address", listening !== undefined, lines.join("\n"));
  const url = listening ? (JSON.parse(listening) as { url: string }).url.replace("0.0.0.0", "127.0.0.1") : "";
  const ready = url ? await fetch(`${url}/readyz`) : undefined;
  check("GET /readyz answers 200", ready?.status === 200, `status ${ready?.status}`);
  const fixture = await Bun.file("test/fixtures/flux/kustomization-reconciliation-succeeded.json").text();
  const response = url ? await fetch(`${url}/gitopsphase`, { method: "POST", body: fixture, headers: { "content-type": "application/json" } }) : undefined;
  check("POST of a Flux fixture answers 202", response?.status === 202, `status ${response?.status}: ${await response?.text()}`);
  const jobLine = await waitFor((line) => line.includes('"component":"dry-run"') && line.includes('"kind":"status"'));
  check("a dry-run status job line is logged", jobLine !== undefined, lines.join("\n"));
  const stopStarted = performance.now();
  proc.kill("SIGTERM");
  const code = await Promise.race([proc.exited, Bun.sleep(5_000).then(() => "timeout")]);
  check("SIGTERM exits 0", code === 0, `exit ${code}`);
  console.error(`(stop took ${Math.round(performance.now() - stopStarted)} ms)`);
} finally {
  proc.kill("SIGKILL");
  await reader.catch(() => undefined);
}
process.exit(results.some((line) => line.startsWith("not ok")) ? 1 : 0);
