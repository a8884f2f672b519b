/**
 * Makes every string of a parsed webhook body well-formed UTF-16. JSON may spell a lone surrogate
 * (`"web\ud800x"`), which no UTF-8 store can hold: SQLite turns it into U+FFFD on the way in, so a value read
 * back would no longer equal the one written (a job's ordering key, a commit's context). Replacing each lone
 * surrogate with U+FFFD here, once, before anything is planned, is exactly what storage would do, so nothing
 * changes later. Only `\uD800`–`\uDFFF` escapes can produce one (invalid UTF-8 bytes are already U+FFFD after
 * decoding), so a body without such an escape is returned as is, without a walk.
 */

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;

const fix = (text: string) => (text.isWellFormed() ? text : text.toWellFormed());

/** The parsed value with each lone surrogate of its strings and keys replaced by U+FFFD; `raw` is the JSON text. */
export function toWellFormedJson(value: unknown, raw: string): unknown {
  if (!SURROGATE_ESCAPE.test(raw)) return value;
  return walk(value);
}

/** Iterative, so a deeply nested body cannot exhaust the stack. */
function walk(root: unknown): unknown {
  if (typeof root === "string") return fix(root);
  if (typeof root !== "object" || root === null) return root;
  const stack: Array<Record<string, unknown> | unknown[]> = [root as Record<string, unknown>];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const item = node[i];
        if (typeof item === "string") node[i] = fix(item);
        else if (typeof item === "object" && item !== null) stack.push(item as Record<string, unknown>);
      }
      continue;
    }
    for (const key of Object.keys(node)) {
      const item = node[key];
      const wellFormedKey = fix(key);
      if (wellFormedKey !== key) {
        delete node[key];
        node[wellFormedKey] = item;
      }
      if (typeof item === "string") node[wellFormedKey] = fix(item);
      else if (typeof item === "object" && item !== null) stack.push(item as Record<string, unknown>);
    }
  }
  return root;
}
