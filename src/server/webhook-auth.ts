/**
 * Webhook authentication, checked on the raw body before anything parses it. Flux `generic-hmac` signs the
 * body (`X-Signature: sha256=<hex>`; Flux's docs ask receivers to accept sha224/384/512 too); Argo CD and Flux
 * `generic` can send `Authorization: Bearer <token>`. Several keys may be valid at once for rotation. Every
 * comparison is constant-time. See https://fluxcd.io/flux/components/notification/providers/#generic-webhook-with-hmac
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export interface WebhookAuth {
  readonly hmacKeys: readonly string[];
  readonly bearerTokens: readonly string[];
}

const SIGNATURE_ALGORITHMS = new Set(["sha224", "sha256", "sha384", "sha512"]);

export function isAuthRequired(auth: WebhookAuth): boolean {
  return auth.hmacKeys.length > 0 || auth.bearerTokens.length > 0;
}

/** True when the request satisfies at least one configured method (or none is configured). */
export function isAuthenticated(auth: WebhookAuth, headers: Headers, rawBody: Uint8Array): boolean {
  if (!isAuthRequired(auth)) return true;
  return hasValidBearer(auth.bearerTokens, headers.get("authorization")) || hasValidSignature(auth.hmacKeys, headers.get("x-signature"), rawBody);
}

function hasValidBearer(tokens: readonly string[], header: string | null): boolean {
  const match = header?.match(/^Bearer\s+(.+)$/i);
  if (!match?.[1]) return false;
  // Hash both sides so the comparison is constant-time whatever their lengths.
  const presented = createHash("sha256").update(match[1].trim()).digest();
  let valid = false;
  for (const token of tokens) valid = timingSafeEqual(presented, createHash("sha256").update(token).digest()) || valid;
  return valid;
}

function hasValidSignature(keys: readonly string[], header: string | null, rawBody: Uint8Array): boolean {
  const match = header?.trim().match(/^(sha\d{3})=([0-9a-fA-F]+)$/);
  if (!match?.[1] || !match[2]) return false;
  const algorithm = match[1].toLowerCase();
  if (!SIGNATURE_ALGORITHMS.has(algorithm)) return false;
  const presented = Buffer.from(match[2], "hex");
  let valid = false;
  for (const key of keys) {
    const expected = createHmac(algorithm, key).update(rawBody).digest();
    valid = (expected.length === presented.length && timingSafeEqual(expected, presented)) || valid;
  }
  return valid;
}
