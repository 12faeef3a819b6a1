/**
 * Packs and verifies an upload in a dedicated worker, so that a long `best`-mode pack does not
 * stall the responses the server is streaming meanwhile.
 * @module
 */
import type { Mode } from "../../codec/chunk_encode.ts";
import { SafetensorsError, type SafetensorsErrorKind } from "../safetensors/errors.ts";

/** What to pack. */
export interface PackJobRequest {
  /** The safetensors file. */
  readonly input: string;
  /** Where the container goes (written atomically). */
  readonly output: string;
  /** Codec mode. */
  readonly mode: Mode;
}

/** What a successful job reports. */
export interface PackJobResult {
  /** SHA-256 of the container file. */
  readonly sha256: string;
  /** Container size. */
  readonly containerSize: number;
  /** SHA-256 of the original file. */
  readonly sourceSha256: string;
  /** Original file size. */
  readonly sourceSize: number;
  /** Tensor count. */
  readonly tensors: number;
}

/**
 * Runs `job` in a fresh worker (or inline when `inline`), rethrowing a SafetensorsError as one.
 *
 * @example
 * ```ts
 * await runPackJob({ input: "up.safetensors", output: "up.tsr", mode: "best" });
 * ```
 */
export async function runPackJob(job: PackJobRequest, inline = false): Promise<PackJobResult> {
  if (inline) {
    const { packAndVerify } = await import("./pack_worker.ts");
    return packAndVerify(job);
  }
  const worker = new Worker(new URL("./pack_worker.ts", import.meta.url).href, { type: "module" });
  try {
    const reply = await new Promise<
      | { ok: true; result: PackJobResult }
      | { ok: false; error: { name: string; kind?: string; message: string } }
    >((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`pack worker failed: ${e.message}`));
      };
      worker.postMessage(job);
    });
    if (reply.ok) return reply.result;
    if (reply.error.name === "SafetensorsError") {
      throw new SafetensorsError(reply.error.kind as SafetensorsErrorKind, reply.error.message);
    }
    throw new Error(reply.error.message);
  } finally {
    worker.terminate();
  }
}
