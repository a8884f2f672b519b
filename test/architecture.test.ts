/**
 * The rules of ARCHITECTURE.md, read from the import graph of src/: which part may import which (a part is a
 * folder under src/), no import circle between files, and each third-party SDK confined to the part that wraps it.
 * Type-only imports count too: a type is a dependency as much as a value. The checker is also run once on a
 * planted violation (outbox → config), so a broken checker cannot pass silently.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = join(import.meta.dir, "..", "src");

/** Part → the parts it may import. `cli` wires everything; `main` is the binary's two-line entry. */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  schema: [],
  observability: ["core"],
  clients: ["core", "schema", "observability"],
  orchestrators: ["core", "clients", "schema", "observability"],
  // Promotion (the manifest editor, the PR format, the commands) owns its port; providers implement it.
  promotion: ["core"],
  // A git provider implements the ports its orchestrator and promotion own (orchestrators/ports.ts,
  // promotion/port.ts); never the reverse.
  git: ["core", "clients", "schema", "observability", "orchestrators", "promotion"],
  subscribers: ["core", "clients"],
  operators: ["core"],
  config: ["core", "schema", "git", "orchestrators", "observability"],
  instances: ["core", "config", "git", "orchestrators", "clients", "observability", "promotion"],
  // The outbox stores and delivers jobs; it knows neither where the config comes from nor how webhooks arrive.
  outbox: ["core", "observability"],
  delivery: ["core", "instances", "subscribers", "git", "clients", "observability", "promotion"],
  scheduler: ["core", "instances", "observability", "promotion"],
  server: ["core", "instances", "operators", "observability"],
  cli: ["core", "promotion", "schema", "observability", "clients", "orchestrators", "git", "subscribers", "operators", "config", "instances", "outbox", "delivery", "scheduler", "server"],
  main: ["cli"],
};

/** Third-party packages and the only parts that import them. */
const CONFINED: Record<string, readonly string[]> = {
  "@octokit/rest": ["clients"],
  "@octokit/auth-app": ["clients"],
  "@octokit/request": ["clients"],
  "bun:sqlite": ["outbox"],
  // Bun's built-in SQL (PostgreSQL) is the only thing of "bun" src imports.
  bun: ["outbox"],
  elysia: ["server"],
  preact: ["server"],
  "preact-render-to-string": ["server"],
  pino: ["observability"],
  "prom-client": ["observability"],
};

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly specifier: string;
}

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports, static or dynamic, types included. */
export function specifiersOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found = [
    ...code.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']/gm),
    ...code.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
    ...code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
  ];
  return found.map((match) => match[1]!);
}

function partOf(file: string): string {
  const path = relative(SRC, file);
  return path.includes("/") ? path.split("/")[0]! : path.replace(/\.ts$/, "");
}

function graph(files: readonly string[], read: (file: string) => string = (file) => readFileSync(file, "utf8")) {
  const edges: Edge[] = [];
  const packages: Edge[] = [];
  for (const file of files) {
    for (const specifier of specifiersOf(read(file))) {
      if (specifier.startsWith(".")) edges.push({ from: file, to: resolve(dirname(file), specifier), specifier });
      else packages.push({ from: file, to: specifier, specifier });
    }
  }
  return { edges, packages };
}

/** Edges between parts that ALLOWED does not list, as `from → to (file imports specifier)`. */
function forbiddenEdges(edges: readonly Edge[]): string[] {
  return edges.flatMap((edge) => {
    if (!edge.to.startsWith(SRC)) return []; // package.json, for the version
    const [from, to] = [partOf(edge.from), partOf(edge.to)];
    if (from === to || ALLOWED[from]?.includes(to)) return [];
    return [`${from} → ${to} (${relative(SRC, edge.from)} imports ${edge.specifier})`];
  });
}

/** The import circles between files (strongly connected components of more than one file, or a self-import). */
function circles(files: readonly string[], edges: readonly Edge[]): string[][] {
  const next = new Map(files.map((file) => [file, [] as string[]]));
  for (const edge of edges) next.get(edge.from)?.push(edge.to);
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string) => {
    order.set(file, index);
    low.set(file, index++);
    stack.push(file);
    onStack.add(file);
    for (const to of next.get(file) ?? []) {
      if (!next.has(to)) continue;
      if (!order.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(file, Math.min(low.get(file)!, order.get(to)!));
    }
    if (low.get(file) === order.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(relative(SRC, member));
      } while (member !== file);
      if (component.length > 1 || (next.get(file) ?? []).includes(file)) found.push(component.sort());
    }
  };
  for (const file of files) if (!order.has(file)) visit(file);
  return found;
}

describe("the import graph of src/", () => {
  const files = sourceFiles();
  const { edges, packages } = graph(files);

  test("every file belongs to a part ARCHITECTURE.md names", () => {
    const parts = new Set(files.map(partOf));
    expect([...parts].filter((part) => !(part in ALLOWED)).sort()).toEqual([]);
    const architecture = readFileSync(join(import.meta.dir, "..", "ARCHITECTURE.md"), "utf8");
    for (const part of parts) if (part !== "main") expect({ part, documented: architecture.includes(`src/${part}/`) }).toEqual({ part, documented: true });
  });

  test("parts import only what they may", () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(forbiddenEdges(edges)).toEqual([]);
  });

  test("no import circle between files", () => {
    expect(circles(files, edges)).toEqual([]);
  });

  test("each SDK stays in the part that wraps it", () => {
    const strays = packages.filter((edge) => edge.to in CONFINED && !CONFINED[edge.to]!.includes(partOf(edge.from)));
    expect(strays.map((edge) => `${relative(SRC, edge.from)} imports ${edge.to}`)).toEqual([]);
  });

  test("the checker catches a planted violation: src/outbox importing ../config/load.ts", () => {
    const planted = join(SRC, "outbox", "planted.ts");
    const text = (file: string) => (file === planted ? 'import { loadConfig } from "../config/load.ts";\nexport const x = loadConfig;\n' : readFileSync(file, "utf8"));
    const withPlant = graph([...files, planted], text);
    expect(forbiddenEdges(withPlant.edges)).toEqual(["outbox → config (outbox/planted.ts imports ../config/load.ts)"]);
    // And a circle: core/model.ts made to import the planner, which imports it.
    const model = join(SRC, "core", "model.ts");
    const circular = graph(files, (file) => (file === model ? `${readFileSync(file, "utf8")}\nimport type { Plan } from "./planner.ts";\n` : readFileSync(file, "utf8")));
    expect(circles(files, circular.edges).some((circle) => circle.includes("core/model.ts") && circle.includes("core/planner.ts"))).toBe(true);
  });
});
