/**
 * `${…}` expansion of config values (DESIGN §5). It runs on every string value of the parsed YAML, never on
 * the raw text, so an expanded value cannot inject YAML. Forms:
 *
 *   ${NAME}            the variable; unset is an error (set but empty gives "")
 *   ${NAME:-default}   the default when NAME is unset or empty (as in sh); the default may be empty
 *   ${file:/path}      the file's content minus one trailing newline (Kubernetes secret mounts, systemd
 *                      credentials); the path is expanded first: ${file:${CREDENTIALS_DIRECTORY}/pat}
 *   $${                a literal ${
 *
 * Pure apart from the injected `env` and `readFile`. Expanded values are not expanded again.
 */
import { formatPath, type ConfigPath, type LocatedError } from "../schema/errors.ts";

export interface ExpandContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a whole file as UTF-8; throws when it cannot. */
  readonly readFile: (path: string) => string;
  /**
   * When set, `${file:…}` reads only files inside these directories (after following symlinks, with `realpath`),
   * so a config cannot pull in `/etc/shadow` as a repository name. Undefined: any file (tests).
   */
  readonly fileRoots?: readonly string[];
  readonly realpath?: (path: string) => string;
}

/** Whether `path` is `root` or inside it. */
function isInside(path: string, root: string): boolean {
  const base = root.endsWith("/") ? root : `${root}/`;
  return path === root || path.startsWith(base);
}

type Node =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "var"; readonly name: string; readonly fallback?: readonly Node[] }
  | { readonly kind: "file"; readonly path: readonly Node[] };

class SyntaxProblem extends Error {}

const UNCLOSED = "a ${ is never closed with }; write $${ for a literal ${";

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Parses up to the end of the text, or up to the `}` that closes the enclosing `${` when `nested`. */
function parseSequence(source: string, start: number, nested: boolean): [Node[], number] {
  const nodes: Node[] = [];
  let text = "";
  let i = start;
  const flush = () => {
    if (text) nodes.push({ kind: "text", text });
    text = "";
  };
  while (i < source.length) {
    if (source.startsWith("$${", i)) {
      text += "${";
      i += 3;
    } else if (source.startsWith("${", i)) {
      flush();
      const [node, next] = parseReference(source, i + 2);
      nodes.push(node);
      i = next;
    } else if (nested && source[i] === "}") {
      flush();
      return [nodes, i];
    } else {
      text += source[i];
      i += 1;
    }
  }
  if (nested) throw new SyntaxProblem(UNCLOSED);
  flush();
  return [nodes, i];
}

/** Parses what follows `${` and returns the position after its closing `}`. */
function parseReference(source: string, start: number): [Node, number] {
  if (source.startsWith("file:", start)) {
    const [path, end] = parseSequence(source, start + 5, true);
    return [{ kind: "file", path }, end + 1];
  }
  NAME.lastIndex = start;
  const name = NAME.exec(source)?.[0];
  if (!name) throw new SyntaxProblem("${ must be followed by a variable name or file:; write $${ for a literal ${");
  const after = start + name.length;
  if (after >= source.length) throw new SyntaxProblem(UNCLOSED);
  if (source[after] === "}") return [{ kind: "var", name }, after + 1];
  if (source.startsWith(":-", after)) {
    const [fallback, end] = parseSequence(source, after + 2, true);
    return [{ kind: "var", name, fallback }, end + 1];
  }
  throw new SyntaxProblem(`\${${name}… must be \${${name}} or \${${name}:-default}`);
}

function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ENOENT") return "it does not exist";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  return error instanceof Error ? error.message : String(error);
}

/** Evaluates nodes, collecting every problem; defaults are evaluated only when used. */
function evaluate(nodes: readonly Node[], context: ExpandContext, problems: string[]): string {
  let out = "";
  for (const node of nodes) {
    if (node.kind === "text") out += node.text;
    else if (node.kind === "var") {
      const value = context.env[node.name];
      if (node.fallback) out += value ? value : evaluate(node.fallback, context, problems);
      else if (value === undefined)
        problems.push(`environment variable ${node.name} is not set (set it, or write \${${node.name}:-} for an empty default)`);
      else out += value;
    } else {
      const before = problems.length;
      const path = evaluate(node.path, context, problems);
      if (problems.length > before) continue;
      if (path === "") {
        problems.push("${file:} needs a path, e.g. ${file:/run/secrets/pat}");
        continue;
      }
      try {
        if (context.fileRoots) {
          const real = (context.realpath ?? ((p: string) => p))(path);
          if (!context.fileRoots.some((root) => isInside(real, root))) {
            problems.push(
              `file ${path} is outside the directories \${file:…} may read from (${context.fileRoots.join(", ")}); ` +
                "put the file there, or add its directory to secretFileRoots",
            );
            continue;
          }
        }
        out += context.readFile(path).replace(/\r?\n$/, "");
      } catch (error) {
        problems.push(`cannot read file ${path} named in \${file:…}: ${reasonOf(error)}`);
      }
    }
  }
  return out;
}

/** Expands one string. Problems are messages without a path; the value is only meaningful without them. */
export function expandString(source: string, context: ExpandContext): { value: string; problems: string[] } {
  if (!source.includes("$")) return { value: source, problems: [] };
  try {
    const [nodes] = parseSequence(source, 0, false);
    const problems: string[] = [];
    const value = evaluate(nodes, context, problems);
    return { value, problems };
  } catch (error) {
    if (error instanceof SyntaxProblem) return { value: source, problems: [error.message] };
    throw error;
  }
}

export interface ExpandedTree {
  readonly value: unknown;
  readonly errors: LocatedError[];
  /** Formatted path → value, for every string that came out different: messages must not echo these. */
  readonly expanded: ReadonlyMap<string, string>;
}

/**
 * Expands every string value in a parsed YAML tree (keys are left alone). A value that fails keeps its
 * unexpanded text, and each problem is reported at the value's path.
 */
export function expandTree(tree: unknown, context: ExpandContext, path: ConfigPath = []): ExpandedTree {
  const errors: LocatedError[] = [];
  const expanded = new Map<string, string>();
  const walk = (node: unknown, at: ConfigPath): unknown => {
    if (typeof node === "string") {
      const { value, problems } = expandString(node, context);
      for (const message of problems) errors.push({ path: at, message });
      if (problems.length > 0) return node;
      if (value !== node) expanded.set(formatPath(at), value);
      return value;
    }
    if (Array.isArray(node)) return node.map((item, index) => walk(item, [...at, index]));
    if (typeof node === "object" && node !== null) {
      // fromEntries defines properties, so a `__proto__` key stays a plain key.
      return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, walk(item, [...at, key])]));
    }
    return node;
  };
  const value = walk(tree, path);
  return { value, errors, expanded };
}
