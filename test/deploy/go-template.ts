/**
 * Renders the small part of Go's text/template (plus two Sprig functions) that deploy/argocd's webhook body
 * uses, with Go's semantics for what matters there: a missing map key is the zero value and prints
 * "<no value>", `index` of nil is an error, `with` takes its else branch for empty values, and Argo CD's
 * template functions `toJson` and `default` behave as Sprig's
 * (https://github.com/argoproj/notifications-engine/blob/master/pkg/templates/service.go). Anything else
 * throws, so a template that outgrows this renderer fails the test instead of being checked wrongly.
 */

type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipeline: string }
  | { kind: "with"; pipeline: string; then: Node[]; otherwise: Node[] };

const ACTION = /\{\{-?\s*([\s\S]*?)\s*-?\}\}/g;

function parse(template: string): Node[] {
  const root: Node[] = [];
  const stack: Array<{ nodes: Node[]; node?: Extract<Node, { kind: "with" }>; inElse: boolean }> = [{ nodes: root, inElse: false }];
  const top = () => stack.at(-1)!;
  let last = 0;
  for (const match of template.matchAll(ACTION)) {
    top().nodes.push({ kind: "text", text: template.slice(last, match.index) });
    last = match.index + match[0].length;
    const action = match[1]!;
    if (action.startsWith("with ")) {
      const node: Node = { kind: "with", pipeline: action.slice(5), then: [], otherwise: [] };
      top().nodes.push(node);
      stack.push({ nodes: node.then, node, inElse: false });
    } else if (action === "else") {
      const frame = top();
      if (!frame.node || frame.inElse) throw new Error("{{else}} outside {{with}}");
      stack[stack.length - 1] = { nodes: frame.node.otherwise, node: frame.node, inElse: true };
    } else if (action === "end") {
      if (stack.length === 1) throw new Error("{{end}} without {{with}}");
      stack.pop();
    } else if (/^(if|range|define|template|block)\b/.test(action)) {
      throw new Error(`{{${action}}} is not supported by this renderer`);
    } else top().nodes.push({ kind: "action", pipeline: action });
  }
  if (stack.length !== 1) throw new Error("{{with}} without {{end}}");
  root.push({ kind: "text", text: template.slice(last) });
  return root;
}

/** Go's notion of empty, as used by `with` and Sprig's `default`. */
function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === "" || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === "object") return Object.keys(value).length === 0;
  return false;
}

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  toJson: (value) => JSON.stringify(value ?? null),
  default: (fallback, value) => (isEmpty(value) ? fallback : value),
  index: (collection, ...keys) => {
    let current = collection;
    for (const key of keys) {
      if (current === undefined || current === null) throw new Error("error calling index: index of untyped nil");
      current = (current as Record<string, unknown>)[String(key)];
    }
    return current;
  },
};

/** `.a.b.c` from dot: a missing key anywhere gives undefined, as for Go maps. */
function field(dot: unknown, path: string): unknown {
  if (path === ".") return dot;
  let current = dot;
  for (const key of path.slice(1).split(".")) {
    current = current !== null && typeof current === "object" ? (current as Record<string, unknown>)[key] : undefined;
  }
  return current;
}

function argument(token: string, dot: unknown): unknown {
  if (token.startsWith('"')) return JSON.parse(token);
  if (token.startsWith(".")) return field(dot, token);
  throw new Error(`unsupported argument ${token}`);
}

function evaluate(pipeline: string, dot: unknown): unknown {
  let piped: { value: unknown } | undefined;
  for (const command of pipeline.split("|").map((part) => part.trim())) {
    const tokens = command.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
    const [head = "", ...rest] = tokens;
    const fn = FUNCTIONS[head];
    if (fn) {
      const args = rest.map((token) => argument(token, dot));
      piped = { value: fn(...args, ...(piped ? [piped.value] : [])) };
    } else if (tokens.length === 1 && !piped) piped = { value: argument(head, dot) };
    else throw new Error(`unsupported command "${command}"`);
  }
  return piped?.value;
}

function print(value: unknown): string {
  if (value === undefined || value === null) return "<no value>";
  if (typeof value === "object") throw new Error("printing a map or list: pipe it through toJson");
  return String(value);
}

function render(nodes: Node[], dot: unknown): string {
  return nodes
    .map((node) => {
      if (node.kind === "text") return node.text;
      if (node.kind === "action") return print(evaluate(node.pipeline, dot));
      const value = evaluate(node.pipeline, dot);
      return isEmpty(value) ? render(node.otherwise, dot) : render(node.then, value);
    })
    .join("");
}

/** Fills a template with data as Argo CD's notifications engine would. */
export function renderGoTemplate(template: string, data: unknown): string {
  return render(parse(template), data);
}
