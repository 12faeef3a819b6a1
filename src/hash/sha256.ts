/**
 * Incremental SHA-256, behind one small module so the implementation can change in one place.
 * @module
 */
import { createHash } from "node:crypto";

/** An incremental SHA-256 whose digest is lower-case hex. */
export interface Sha256 {
  /** Feeds more bytes. */
  update(bytes: Uint8Array): void;
  /** Finishes and returns the hex digest; the hasher is spent afterwards. */
  hex(): string;
}

/** Starts an incremental SHA-256. */
export function sha256(): Sha256 {
  const h = createHash("sha256");
  return {
    update: (bytes) => void h.update(bytes),
    hex: () => h.digest("hex"),
  };
}

/** SHA-256 of `bytes` as lower-case hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** SHA-256 of `bytes` as 32 raw bytes. */
export function sha256Bytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}
