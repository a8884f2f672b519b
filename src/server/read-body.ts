/**
 * Reads a request body up to a byte limit, refusing early on a declared Content-Length and stopping the
 * stream as soon as a chunked body passes the limit, so an oversized body is never buffered whole.
 */
export type BodyResult = { ok: true; bytes: Uint8Array } | { ok: false; tooLarge: true };

export async function readBodyWithLimit(request: Request, maxBytes: number): Promise<BodyResult> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) return { ok: false, tooLarge: true };
  if (!request.body) return { ok: true, bytes: new Uint8Array() };
  // A declared length within the limit is all the server reads: take it whole, without the stream machinery
  // (a reader, a promise per chunk), which cost as much per webhook as storing it.
  if (Number.isFinite(declared)) return { ok: true, bytes: await request.bytes() };

  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return { ok: false, tooLarge: true };
    }
    chunks.push(value);
  }
  return { ok: true, bytes: Buffer.concat(chunks) };
}
