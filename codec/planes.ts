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
  // Whole-word stores are several times faster than byte stores; views need aligned offsets.
  if (width === 2 && (dst.byteOffset & 1) === 0) {
    mergeTwo(planes[1], planes[0], signMoved, new Uint16Array(dst.buffer, dst.byteOffset, n));
    return;
  }
  if (width === 4 && (dst.byteOffset & 3) === 0) {
    mergeFour(planes, signMoved, new Uint32Array(dst.buffer, dst.byteOffset, n));
    return;
  }
  for (let p = 0; p < width; p++) {
    const plane = planes[p];
    for (let i = 0, j = p; i < n; i++, j += width) dst[j] = plane[i];
  }
  if (signMoved) {
    for (let i = 0, j = width - 2; i < n; i++, j += width) {
      const e = dst[j + 1], m = dst[j];
      dst[j + 1] = (m & 0x80) | (e >> 1);
      dst[j] = ((e & 1) << 7) | (m & 0x7f);
    }
  }
}

// The word views assume a little-endian host, which every browser and Deno target is.
function mergeTwo(hi: Uint8Array, lo: Uint8Array, signMoved: boolean, out: Uint16Array): void {
  const n = out.length;
  if (signMoved) {
    for (let i = 0; i < n; i++) {
      const m = lo[i];
      out[i] = ((m & 0x80) << 8) | (hi[i] << 7) | (m & 0x7f);
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = (hi[i] << 8) | lo[i];
  }
}

function mergeFour(planes: Uint8Array[], signMoved: boolean, out: Uint32Array): void {
  const n = out.length;
  const p0 = planes[0], p1 = planes[1], p2 = planes[2], p3 = planes[3];
  if (signMoved) {
    for (let i = 0; i < n; i++) {
      const m = p2[i];
      out[i] = (((m & 0x80) << 24) | (p3[i] << 23) | ((m & 0x7f) << 16) | (p1[i] << 8) | p0[i]) >>>
        0;
    }
  } else {
    for (let i = 0; i < n; i++) {
      out[i] = ((p3[i] << 24) | (p2[i] << 16) | (p1[i] << 8) | p0[i]) >>> 0;
    }
  }
}
