/**
 * A new value for a scalar, written in the style the file already used for it. A plain scalar stays plain only
 * when it reads back as the same string under YAML 1.2 (what the `yaml` parser and Flux read) and YAML 1.1 (what
 * Helm and older tools read): `1234`, `on`, `1e3`, `0x1f`, `1_000` or `null` would change type, so they get double
 * quotes, as does anything with YAML syntax in it. Quoted scalars keep their quotes.
 */
import { parse } from "yaml";

export type ScalarStyle = "PLAIN" | "QUOTE_DOUBLE" | "QUOTE_SINGLE";

export function renderScalar(value: string, style: ScalarStyle, inFlow: boolean): string {
  if (style === "QUOTE_SINGLE") return `'${value.replaceAll("'", "''")}'`;
  if (style === "QUOTE_DOUBLE" || !readsBackAsString(value, inFlow)) return JSON.stringify(value);
  return value;
}

/** Flow collections end a plain scalar at these, so inside `[…]` or `{…}` they need quotes. */
const FLOW_INDICATORS = /[,[\]{}]/;

function readsBackAsString(value: string, inFlow: boolean): boolean {
  if (value === "" || value.trim() !== value || /[\n\r\t]/.test(value)) return false;
  if (inFlow && FLOW_INDICATORS.test(value)) return false;
  return (["1.1", "1.2"] as const).every((version) => {
    try {
      const read: unknown = parse(`k: ${value}\n`, { version, prettyErrors: false });
      return typeof read === "object" && read !== null && (read as Record<string, unknown>).k === value;
    } catch {
      return false;
    }
  });
}
