/**
 * The one error format of every worker protocol: an error crosses a thread boundary as its name,
 * kind and message, and comes back as the same class, so callers match on `kind` wherever the
 * failure happened.
 * @module
 */
import { CodecError, type CodecErrorKind } from "../../codec/errors.ts";
import { ContainerError, type ContainerErrorKind } from "../container/errors.ts";

/** An error as posted between threads. */
export interface WorkerError {
  /** The class name: `ContainerError`, `CodecError`, or another. */
  readonly name: string;
  /** The error's kind, for the classes that have one. */
  readonly kind?: string;
  /** The message. */
  readonly message: string;
}

/** `e` as it crosses to another thread. */
export function toWorkerError(e: unknown): WorkerError {
  if (e instanceof Error) {
    const kind = (e as { kind?: unknown }).kind;
    return { name: e.name, kind: typeof kind === "string" ? kind : undefined, message: e.message };
  }
  return { name: "Error", message: String(e) };
}

/**
 * The error `w` describes, rebuilt as its own class where it is one of ours.
 *
 * @example
 * ```ts
 * import { fromWorkerError } from "./worker_error.ts";
 * const e = fromWorkerError({ name: "ContainerError", kind: "chunk_corrupt", message: "bad" });
 * console.assert(e.name === "ContainerError");
 * ```
 */
export function fromWorkerError(w: WorkerError): Error {
  if (w.name === "ContainerError") {
    return new ContainerError((w.kind ?? "chunk_corrupt") as ContainerErrorKind, w.message);
  }
  if (w.name === "CodecError") {
    return new CodecError((w.kind ?? "corrupt") as CodecErrorKind, w.message);
  }
  const e = new Error(w.message);
  e.name = w.name;
  return e;
}
