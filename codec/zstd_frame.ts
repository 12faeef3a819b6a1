/**
 * Walks Zstandard frame and block headers (RFC 8878, section 3.1.1) without decoding, so both
 * decoders can insist on whole frames of exactly the declared size. Browser-safe.
 * @module
 */
import { CodecError } from "./errors.ts";

const MAGIC = 0xfd2fb528;

/**
 * Checks that `src` is a sequence of whole Zstandard frames, each declaring its content size, that
 * together declare `rawLength` bytes. (node:zlib sometimes ends its output with an empty frame.)
 * Throws `corrupt` or `truncated` otherwise.
 */
export function checkZstdFrames(src: Uint8Array, rawLength: number): void {
  let p = 0, total = 0;
  do {
    // Nine bytes is the smallest frame; anything shorter after a frame is debris, not a cut.
    if (p > 0 && src.length - p < 9) {
      throw new CodecError("corrupt", `${src.length - p} stray bytes after the zstd frames`);
    }
    const [end, size] = walkFrame(src, p);
    p = end;
    total += size;
  } while (p < src.length);
  if (total !== rawLength) {
    throw new CodecError("corrupt", `zstd frames declare ${total} bytes, expected ${rawLength}`);
  }
}

// Returns the end offset and declared content size of the frame at `p`.
function walkFrame(src: Uint8Array, p: number): [number, number] {
  if (src.length - p < 6) throw new CodecError("truncated", `zstd frame at ${p} is cut off`);
  const magic = (src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24)) >>> 0;
  if (magic !== MAGIC) {
    throw new CodecError("corrupt", `zstd magic is ${magic.toString(16)}, not fd2fb528`);
  }
  const fhd = src[p + 4];
  const fcsFlag = fhd >> 6, singleSegment = (fhd >> 5) & 1, checksum = (fhd >> 2) & 1;
  if ((fhd >> 3) & 1) throw new CodecError("corrupt", "zstd frame header sets the reserved bit");
  // Containers carry no dictionaries; a decoder that ignored the id would decode differently.
  if (fhd & 3) throw new CodecError("corrupt", "zstd frame names a dictionary");
  p += 5 + (singleSegment ? 0 : 1);
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
  if (fcsBytes === 0) {
    throw new CodecError("corrupt", "zstd frame does not declare its content size");
  }
  if (p + fcsBytes > src.length) throw new CodecError("truncated", "zstd frame header is cut off");
  let size = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + src[p + i];
  if (fcsBytes === 2) size += 256;
  p += fcsBytes;
  for (;;) {
    if (p + 3 > src.length) throw new CodecError("truncated", "zstd block header is cut off");
    const bh = src[p] | (src[p + 1] << 8) | (src[p + 2] << 16);
    const last = bh & 1, type = (bh >> 1) & 3, blockSize = bh >>> 3;
    if (type === 3) throw new CodecError("corrupt", "zstd block type 3 is reserved");
    p += 3 + (type === 1 ? 1 : blockSize);
    if (p > src.length) throw new CodecError("truncated", "zstd block is cut off");
    if (last) break;
  }
  p += checksum ? 4 : 0;
  if (p > src.length) throw new CodecError("truncated", "zstd frame checksum is cut off");
  return [p, size];
}
