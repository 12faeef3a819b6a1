/**
 * Small deterministic generators for the codec tests: a seeded PRNG (mulberry32), Box-Muller
 * normals, and BF16-origin weight tensors.
 * @module
 */

/** A seeded 32-bit PRNG (mulberry32): fast, tiny, and good enough for test data. */
export class Rng {
  #state: number;

  /** Starts the sequence at `seed`; equal seeds give equal sequences. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next unsigned 32-bit integer. */
  u32(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** `n` uniformly random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** A standard normal sample (Box-Muller). */
  normal(): number {
    const u = 1 - this.float(); // (0, 1], so the log is finite
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** Rounds a float32 bit pattern to BF16 (round to nearest even), keeping NaNs quiet. */
export function f32BitsToBf16(bits: number): number {
  bits >>>= 0;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** `n` normal weights (standard deviation `std`) rounded to BF16, as little-endian BF16 bytes. */
export function normalBf16(rng: Rng, n: number, std = 0.02): Uint8Array {
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    f[0] = rng.normal() * std;
    out[i] = f32BitsToBf16(u[0]);
  }
  return new Uint8Array(out.buffer);
}

/**
 * `n` normal weights (standard deviation `std`) that were BF16 before being widened to F32, as
 * little-endian F32 bytes: the low 16 bits of every element are zero.
 */
export function normalBf16OriginF32(rng: Rng, n: number, std = 0.02): Uint8Array {
  const bf16 = new Uint16Array(normalBf16(rng, n, std).buffer);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = (bf16[i] << 16) >>> 0;
  return new Uint8Array(out.buffer);
}

/** A copy of `src` at byte offset `offset` of a larger buffer, so its view is misaligned. */
export function atOffset(src: Uint8Array, offset: number): Uint8Array {
  const buf = new Uint8Array(src.length + offset + 8);
  buf.set(src, offset);
  return buf.subarray(offset, offset + src.length);
}

/** FP8-like bytes whose exponent drifts along the plane: the previous byte predicts the next. */
export function driftingFp8(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let e = 8;
  for (let i = 0; i < n; i++) {
    if (rng.float() < 0.02) e = 2 + rng.int(12);
    const x = Math.max(0, Math.min(15, e + Math.round(rng.normal())));
    out[i] = (rng.int(2) << 7) | (x << 3) | rng.int(8);
  }
  return out;
}
