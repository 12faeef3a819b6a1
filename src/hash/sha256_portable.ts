/**
 * SHA-256 (FIPS 180-4) in plain TypeScript: the last resort of the portable backends, for a
 * platform with neither the native library nor WebAssembly. It replaces `@noble/hashes`, which
 * ran at the same speed here (about 125 MB/s) but cost 25 ms to import in every process that
 * might need it. Browser-safe.
 * @module
 */
import type { Hasher } from "../container/backends.ts";

const K = Uint32Array.from([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

/** Compresses the 64-byte blocks of `p[at, at + 64 n)` into `h`; `w` is 64 words of scratch. */
function blocks(h: Int32Array, w: Int32Array, p: Uint8Array, at: number, n: number): void {
  for (let b = 0; b < n; b++, at += 64) {
    for (let i = 0; i < 16; i++) {
      const j = at + 4 * i;
      w[i] = (p[j] << 24) | (p[j + 1] << 16) | (p[j + 2] << 8) | p[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b2 = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b2 >>> 17) | (b2 << 15)) ^ ((b2 >>> 19) | (b2 << 13)) ^ (b2 >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (k + s1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      k = g, g = f, f = e, e = (d + t1) | 0, d = c, c = bb, bb = a, a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0, h[1] = (h[1] + bb) | 0, h[2] = (h[2] + c) | 0, h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0, h[5] = (h[5] + f) | 0, h[6] = (h[6] + g) | 0, h[7] = (h[7] + k) | 0;
  }
}

/**
 * Starts an incremental SHA-256.
 *
 * @example
 * ```ts
 * import { portableSha256 } from "./sha256_portable.ts";
 * const h = portableSha256();
 * h.update(new TextEncoder().encode("abc"));
 * console.assert(h.hex().startsWith("ba7816bf"));
 * ```
 */
export function portableSha256(): Hasher {
  const h = Int32Array.from([
    0x6a09e667,
    0xbb67ae85,
    0x3c6ef372,
    0xa54ff53a,
    0x510e527f,
    0x9b05688c,
    0x1f83d9ab,
    0x5be0cd19,
  ]);
  const w = new Int32Array(64), buf = new Uint8Array(64);
  let buffered = 0, total = 0;
  const update = (p: Uint8Array) => {
    total += p.length;
    let at = 0;
    if (buffered > 0) {
      const take = Math.min(64 - buffered, p.length);
      buf.set(p.subarray(0, take), buffered);
      buffered += take, at = take;
      if (buffered < 64) return;
      blocks(h, w, buf, 0, 1);
      buffered = 0;
    }
    const n = (p.length - at) >>> 6;
    blocks(h, w, p, at, n);
    at += n * 64;
    buf.set(p.subarray(at), 0);
    buffered = p.length - at;
  };
  return {
    update,
    hex() {
      const bits = total * 8, pad = new Uint8Array((buffered < 56 ? 56 : 120) - buffered + 8);
      pad[0] = 0x80;
      const view = new DataView(pad.buffer);
      view.setUint32(pad.length - 8, Math.floor(bits / 2 ** 32));
      view.setUint32(pad.length - 4, bits >>> 0);
      update(pad);
      let s = "";
      for (const v of h) s += (v >>> 0).toString(16).padStart(8, "0");
      return s;
    },
  };
}
