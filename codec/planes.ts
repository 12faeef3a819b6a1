/**
 * Split elements into byte planes and merge them back.
 *
 * Plane `p` holds byte `p` of every element, little-endian, so plane `width - 1` is the most
 * significant. With `signMoved`, the top two planes instead hold the exponent byte (plane
 * `width - 1`) and `sign | high 7 mantissa bits` (plane `width - 2`). Browser-safe.
 * @module
 */

/** Splits `src` (a whole number of `width`-byte elements) into `width` planes of `src.length / width` bytes. */
export function splitPlanes(
  src: Uint8Array,
  width: number,
  signMoved: boolean,
  planes: Uint8Array[],
): void {
  const n = src.length / width;
  for (let p = 0; p < width; p++) {
    const plane = planes[p];
    for (let i = 0, j = p; i < n; i++, j += width) plane[i] = src[j];
  }
  if (signMoved) {
    const hi = planes[width - 1], lo = planes[width - 2];
    for (let i = 0; i < n; i++) {
      const h = hi[i], l = lo[i];
      hi[i] = ((h << 1) | (l >> 7)) & 0xff;
      lo[i] = (h & 0x80) | (l & 0x7f);
    }
  }
}

/** Merges `width` planes back into `dst`, the inverse of {@link splitPlanes}. */
export function mergePlanes(
  planes: Uint8Array[],
  width: number,
  signMoved: boolean,
  dst: Uint8Array,
): void {
  const n = dst.length / width;
  // Word loads and stores move 4 elements per step: 2-3x faster than byte loops. They need
  // 4-byte-aligned views; callers that care place planes accordingly.
  const aligned = (dst.byteOffset & 3) === 0 && planes.every((p) => (p.byteOffset & 3) === 0);
  if (aligned && width === 2) {
    mergeTwo(planes[1], planes[0], signMoved, dst, n);
    return;
  }
  if (aligned && width === 4) {
    mergeFour(planes, signMoved, dst, n);
    return;
  }
  mergeBytes(planes, width, signMoved, dst, 0, n);
}

function mergeBytes(
  planes: Uint8Array[],
  width: number,
  signMoved: boolean,
  dst: Uint8Array,
  from: number,
  n: number,
): void {
  for (let p = 0; p < width; p++) {
    const plane = planes[p];
    for (let i = from, j = from * width + p; i < n; i++, j += width) dst[j] = plane[i];
  }
  if (signMoved) {
    for (let i = from, j = from * width + width - 2; i < n; i++, j += width) {
      const e = dst[j + 1], m = dst[j];
      dst[j + 1] = (m & 0x80) | (e >> 1);
      dst[j] = ((e & 1) << 7) | (m & 0x7f);
    }
  }
}

function words(b: Uint8Array, count: number): Int32Array {
  return new Int32Array(b.buffer, b.byteOffset, count);
}

// Spreads the two low bytes of x into the low bytes of its two 16-bit halves.
function spread(x: number): number {
  return (x & 0xff) | ((x & 0xff00) << 8);
}

// The word views assume a little-endian host, which every browser and Deno target is.
function mergeTwo(
  hi: Uint8Array,
  lo: Uint8Array,
  signMoved: boolean,
  dst: Uint8Array,
  n: number,
): void {
  const q = n >> 2, h = words(hi, q), l = words(lo, q), out = words(dst, 2 * q);
  if (signMoved) {
    for (let i = 0, o = 0; i < q; i++, o += 2) {
      const e = h[i], m = l[i];
      let es = spread(e), ms = spread(m);
      out[o] = ((ms & 0x00800080) << 8) | (es << 7) | (ms & 0x007f007f);
      es = spread(e >>> 16), ms = spread(m >>> 16);
      out[o + 1] = ((ms & 0x00800080) << 8) | (es << 7) | (ms & 0x007f007f);
    }
  } else {
    for (let i = 0, o = 0; i < q; i++, o += 2) {
      const e = h[i], m = l[i];
      out[o] = (spread(e) << 8) | spread(m);
      out[o + 1] = (spread(e >>> 16) << 8) | spread(m >>> 16);
    }
  }
  mergeBytes([lo, hi], 2, signMoved, dst, q << 2, n);
}

function mergeFour(planes: Uint8Array[], signMoved: boolean, dst: Uint8Array, n: number): void {
  const q = n >> 2, out = words(dst, n & ~3);
  const w0 = words(planes[0], q), w1 = words(planes[1], q);
  const w2 = words(planes[2], q), w3 = words(planes[3], q);
  for (let i = 0, o = 0; i < q; i++, o += 4) {
    const a = w0[i], b = w1[i];
    let c = w2[i], d = w3[i];
    if (signMoved) {
      // Moves each sign bit from the mantissa byte (plane 2) back to the top of the exponent
      // byte (plane 3), four lanes at once.
      const e = d, m = c;
      d = (m & 0x80808080) | ((e >>> 1) & 0x7f7f7f7f);
      c = ((e << 7) & 0x80808080) | (m & 0x7f7f7f7f);
    }
    for (let k = 0, sh = 0; k < 4; k++, sh += 8) {
      out[o + k] = ((a >>> sh) & 0xff) | (((b >>> sh) & 0xff) << 8) | (((c >>> sh) & 0xff) << 16) |
        (((d >>> sh) & 0xff) << 24);
    }
  }
  mergeBytes(planes, 4, signMoved, dst, q << 2, n);
}
