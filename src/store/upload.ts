/**
 * Receives a request body with a size limit: to a file for model uploads, to memory for sidecars.
 * The limit is checked against `Content-Length` before reading and against the bytes received
 * while reading, so an oversized body is refused without being stored.
 * @module
 */
import { StoreError } from "./errors.ts";

/** Limits of a body read. */
export interface ReceiveLimits {
  /** Most bytes accepted. */
  readonly maxBytes: number;
  /** The announced `Content-Length`, if any. */
  readonly contentLength?: number | null;
  /** Longest wait for the next body chunk. */
  readonly idleTimeoutMs?: number;
}

function tooLarge(limits: ReceiveLimits, got: number): StoreError {
  return new StoreError(
    "too_large",
    `upload is limited to ${limits.maxBytes} bytes; received ${got} or more`,
  );
}

/** Throws `too_large` at once when the announced length is over the limit. */
export function checkAnnouncedLength(limits: ReceiveLimits): void {
  const n = limits.contentLength;
  if (n != null && n > limits.maxBytes) throw tooLarge(limits, n);
}

async function* chunks(
  body: ReadableStream<Uint8Array> | null,
  limits: ReceiveLimits,
): AsyncGenerator<Uint8Array> {
  checkAnnouncedLength(limits);
  if (!body) return;
  const reader = body.getReader();
  let total = 0;
  try {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ms = limits.idleTimeoutMs ?? 0;
      const read = reader.read().catch((e) => {
        throw new StoreError("incomplete_upload", `upload body failed: ${(e as Error).message}`);
      });
      const r = await (ms > 0
        ? Promise.race([
          read,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new StoreError("incomplete_upload", `upload stalled for ${ms} ms`)),
              ms,
            );
          }),
        ]).finally(() => clearTimeout(timer))
        : read);
      if (r.done) break;
      total += r.value.length;
      if (total > limits.maxBytes) throw tooLarge(limits, total);
      yield r.value;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  if (limits.contentLength != null && total !== limits.contentLength) {
    throw new StoreError(
      "incomplete_upload",
      `body has ${total} bytes, Content-Length announced ${limits.contentLength}`,
    );
  }
}

/**
 * Streams `body` into a new file at `path`; returns the byte count. On any failure the file is
 * removed.
 *
 * @example
 * ```ts
 * await receiveToFile(req.body, ".tmp/upload.safetensors", { maxBytes: 4 << 30 });
 * ```
 */
export async function receiveToFile(
  body: ReadableStream<Uint8Array> | null,
  path: string,
  limits: ReceiveLimits,
): Promise<number> {
  checkAnnouncedLength(limits);
  const file = await Deno.open(path, { write: true, createNew: true });
  let total = 0;
  try {
    for await (const chunk of chunks(body, limits)) {
      let written = 0;
      while (written < chunk.length) written += await file.write(chunk.subarray(written));
      total += chunk.length;
    }
    await file.sync();
    file.close();
    return total;
  } catch (e) {
    try {
      file.close();
    } catch { /* already closed */ }
    await Deno.remove(path).catch(() => {});
    throw e;
  }
}

/** Reads `body` into memory within the limits. */
export async function receiveToMemory(
  body: ReadableStream<Uint8Array> | null,
  limits: ReceiveLimits,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of chunks(body, limits)) {
    parts.push(chunk);
    total += chunk.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
