/**
 * Reads a safetensors file's tensors as binary32, for the forward pass.
 * @module
 */
import { toFloat32 } from "../../codec/variants/float.ts";
import { openFileReader } from "../../src/io/random_access.ts";
import { readSafetensorsHeader } from "../../src/safetensors/parse.ts";

/** Every tensor of the safetensors file at `path`, by name, as binary32. */
export async function readWeights(path: string): Promise<Map<string, Float32Array>> {
  const reader = await openFileReader(path);
  try {
    const h = await readSafetensorsHeader(reader);
    const out = new Map<string, Float32Array>();
    for (const t of h.tensors) {
      const bytes = await reader.readAt(h.dataStart + t.begin, t.end - t.begin);
      out.set(t.name, toFloat32(bytes, t.dtype));
    }
    return out;
  } finally {
    reader.close();
  }
}
