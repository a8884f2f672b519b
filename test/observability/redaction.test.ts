import { describe, expect, test } from "bun:test";
import { classifyHttpFailure } from "../../src/clients/http-failure.ts";
import { createSecretRedactor, cutText, MIN_SECRET_PIECE } from "../../src/observability/logger.ts";

const TOKEN = "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";

/** Every piece of `secret` of `length` characters that `text` contains. */
function piecesIn(text: string, secret: string, length = MIN_SECRET_PIECE): string[] {
  const found: string[] = [];
  for (let at = 0; at + length <= secret.length; at++) if (text.includes(secret.slice(at, at + length))) found.push(secret.slice(at, at + length));
  return found;
}

describe("no piece of a secret survives a cut", () => {
  test("an API echoing the token in a 400-character error: the message is cut at 300 inside it; no piece of 8+ remains", () => {
    const redactor = createSecretRedactor([TOKEN]);
    for (let offset = 250; offset < 300; offset += 3) {
      const apiMessage = `${"x".repeat(offset)} Bad credentials for ${TOKEN} ${"y".repeat(400 - offset)}`;
      const error = classifyHttpFailure({ status: 400, message: apiMessage, who: { service: "GitHub", instance: "apps-dev", resource: "org/manifests" } });
      expect(piecesIn(redactor.redact(error.message), TOKEN)).toEqual([]);
    }
  });

  test("a suffix after a cut is redacted too; whole secrets and the text around them are kept apart", () => {
    const redactor = createSecretRedactor([TOKEN]);
    expect(redactor.redact(`…${TOKEN.slice(10)} and more`)).toBe("…[REDACTED] and more");
    expect(redactor.redact(`before ${TOKEN} after`)).toBe("before [REDACTED] after");
    expect(redactor.redact(cutText(`prefix ${TOKEN}`, 20))).toBe("prefix [REDACTED]…");
  });

  test("a piece shorter than 8 characters at a cut is left (it could be anything), and text without a cut is untouched", () => {
    const redactor = createSecretRedactor([TOKEN]);
    expect(redactor.redact(`ends in ${TOKEN.slice(0, 7)}…`)).toBe(`ends in ${TOKEN.slice(0, 7)}…`);
    expect(redactor.redact(`mentions ${TOKEN.slice(0, 12)} without a cut`)).toBe(`mentions ${TOKEN.slice(0, 12)} without a cut`);
  });
});
