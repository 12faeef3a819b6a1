/**
 * Test setup for the client: packs the shared data files into a models directory and serves it
 * with the real server on a random loopback port.
 * @module
 */
import { packFile } from "../../src/pack/write.ts";
import { defaultConfig } from "../../src/server/config.ts";
import { startServer } from "../../src/server/server.ts";

/** The shared real-weights folder, `../shared/data` from the repository root. */
export const DATA_DIR = new URL("../../../shared/data/", import.meta.url);

/** Safetensors files of the shared data folder, smallest first; empty when it is missing. */
export function dataFiles(): { name: string; path: string; size: number }[] {
  try {
    return [...Deno.readDirSync(DATA_DIR)]
      .filter((e) => e.isFile && e.name.endsWith(".safetensors"))
      .map((e) => {
        const path = new URL(e.name, DATA_DIR).pathname;
        return { name: e.name.replace(/\.safetensors$/, ""), path, size: Deno.statSync(path).size };
      })
      .sort((a, b) => a.size - b.size);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** A model packed into a models directory. */
export interface PackedModel {
  /** `org/name`. */
  readonly id: string;
  /** The original safetensors file. */
  readonly source: string;
  /** The container, `<models>/<org>/<name>/main/model.tsr`. */
  readonly container: string;
}

/** Packs `source` (mode `fast`) as model `id` into `modelsDir`. */
export async function packModel(
  modelsDir: string,
  id: string,
  source: string,
  chunkBytes?: number,
): Promise<PackedModel> {
  const dir = `${modelsDir}/${id}/main`;
  await Deno.mkdir(dir, { recursive: true });
  const container = `${dir}/model.tsr`;
  await packFile(source, container, { mode: "fast", chunkBytes });
  return { id, source, container };
}

/** A running server. */
export interface Hub {
  /** `http://127.0.0.1:port`. */
  readonly base: string;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Starts the real Tessera server over `modelsDir` on a random loopback port. */
export async function startHub(modelsDir: string): Promise<Hub> {
  const server = await startServer(
    defaultConfig({ modelsDir, port: 0, host: "127.0.0.1", quiet: true, demo: false, workers: 2 }),
    () => {},
  );
  return { base: server.url, close: () => server.close() };
}
