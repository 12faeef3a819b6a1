/**
 * RFC 9530 integrity fields: `Repr-Digest`, `Content-Digest` and the `Want-*-Digest` preferences.
 * @module
 */
import { createHash } from "node:crypto";

/** Digest algorithms Tessera computes. */
export type DigestAlgorithm = "sha-256" | "sha-512";

const SUPPORTED: readonly DigestAlgorithm[] = ["sha-256", "sha-512"];

/**
 * A digest field value (`sha-256=:<base64>:`) from a lower-case hex SHA-256.
 *
 * @example
 * ```ts
 * digestFromHex("e3b0c442...b855"); // "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
 * ```
 */
export function digestFromHex(sha256Hex: string): string {
  let field = recentDigests.get(sha256Hex);
  if (field === undefined) {
    const bytes = new Uint8Array(sha256Hex.length / 2);
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = parseInt(sha256Hex.slice(2 * i, 2 * i + 2), 16);
    }
    field = `sha-256=:${btoa(String.fromCharCode(...bytes))}:`;
    if (recentDigests.size >= RECENT) recentDigests.clear();
    recentDigests.set(sha256Hex, field);
  }
  return field;
}

/**
 * Fields of digests converted lately: the same files and tensors are asked for again and again
 * (about 9 µs a conversion under the soak's load, on every response).
 */
const recentDigests = new Map<string, string>();
const RECENT = 4096;

/** A digest field value for `bytes` with `algorithm`. */
export function digestOf(algorithm: DigestAlgorithm, parts: readonly Uint8Array[]): string {
  const h = createHash(algorithm === "sha-256" ? "sha256" : "sha512");
  for (const p of parts) h.update(p);
  return `${algorithm}=:${h.digest("base64")}:`;
}

/**
 * The preferred supported algorithm of a `Want-Content-Digest` or `Want-Repr-Digest` value
 * (a structured-field dictionary of weights 0-10; 0 means "not acceptable"), or null.
 *
 * @example
 * ```ts
 * wantedDigest("sha-512=3, sha-256=10"); // "sha-256"
 * ```
 */
export function wantedDigest(header: string | null): DigestAlgorithm | null {
  if (header === null) return null;
  let best: DigestAlgorithm | null = null, bestWeight = 0;
  for (const member of header.split(",")) {
    const [key, value] = member.split("=", 2).map((s) => s.trim().toLowerCase());
    const weight = value === undefined ? 1 : Number(value);
    const alg = SUPPORTED.find((a) => a === key);
    if (alg && Number.isFinite(weight) && weight > bestWeight) {
      best = alg;
      bestWeight = weight;
    }
  }
  return best;
}
