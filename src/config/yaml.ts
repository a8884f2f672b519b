/**
 * Parses the config file's YAML: syntax errors with `file:line:col`, and where each value sits in the file
 * so errors can be listed in the order a reader meets them. YAML's own messages can quote source text (a
 * token on a broken line), so quoted source is cut from them.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { formatPath, type ConfigError, type ConfigPath } from "../schema/errors.ts";

export interface ParsedYaml {
  readonly tree: unknown;
  readonly errors: ConfigError[];
  /** The offset of the value at `path`, or of its nearest ancestor present in the file. */
  readonly offsetOf: (path: ConfigPath) => number;
}

/** Drops quoted source text (`…in YAML stream: "ghp_…"`) from a YAML error message. */
function withoutSource(message: string): string {
  const line = message.split("\n")[0] ?? message;
  if (line.startsWith("Block scalar header includes extra characters")) return "Block scalar header includes extra characters";
  return line.replace(/:?\s*"(?:[^"\\]|\\.)*"/g, "").replace(/:?\s*'[^']*'/g, "");
}

function recordOffsets(node: unknown, path: ConfigPath, offsets: Map<string, number>): void {
  const start = (node as { range?: [number, number, number] } | null)?.range?.[0];
  if (start !== undefined && !offsets.has(formatPath(path))) offsets.set(formatPath(path), start);
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      const keyStart = pair.key.range?.[0];
      if (keyStart !== undefined && !offsets.has(formatPath([...path, key]))) offsets.set(formatPath([...path, key]), keyStart);
      recordOffsets(pair.value, [...path, key], offsets);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => recordOffsets(item as Node, [...path, index], offsets));
  }
}

export function parseYaml(text: string, file: string): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter: lines, merge: true });
  const offsets = new Map<string, number>();
  const offsetOf = (path: ConfigPath) => {
    for (let length = path.length; length >= 0; length--) {
      const offset = offsets.get(formatPath(path.slice(0, length)));
      if (offset !== undefined) return offset;
    }
    return 0;
  };
  const errors = doc.errors.map((error): ConfigError => {
    const { line, col } = lines.linePos(error.pos[0]);
    const message = error.code === "MULTIPLE_DOCS" ? "the file holds several YAML documents (---); keep one" : withoutSource(error.message);
    return { path: `${file}:${line}:${col}`, message: `YAML syntax error: ${message}` };
  });
  if (errors.length > 0) return { tree: undefined, errors, offsetOf };
  recordOffsets(doc.contents, [], offsets);
  try {
    return { tree: doc.toJS({ maxAliasCount: 1000 }), errors, offsetOf };
  } catch (error) {
    return { tree: undefined, errors: [{ path: file, message: `YAML error: ${withoutSource((error as Error).message)}` }], offsetOf };
  }
}
