/**
 * Containers with variants for the server and client tests, made once per test process from the
 * committed stories260k model: `var` holds the original and three variants, `edge` only `int8`
 * (variant-only). They are installed in the folder layout a store imports at start.
 * @module
 */
import { parseSpecList } from "../../codec/variants/spec.ts";
import { deriveFile } from "../../src/pack/derive.ts";
import { packFile } from "../../src/pack/write.ts";
import { FIXTURE_MODEL } from "./repos.ts";

/** The variants of the `var` model. */
export const VAR_SPECS = "int8:g64,ternary:2:greedy,svd:ratio=4";
/** The variant of the variant-only `edge` model. */
export const EDGE_SPEC = "int8";

let made: Promise<{ full: Uint8Array; edge: Uint8Array }> | null = null;

/** The two containers' bytes, derived once per process. */
export function variantContainers(): Promise<{ full: Uint8Array; edge: Uint8Array }> {
  made ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "tessera_variants_" });
    try {
      await packFile(FIXTURE_MODEL, `${dir}/in.tsr`, { mode: "fast", chunkBytes: 16384 });
      const derive = (out: string, specs: string, variantOnly: boolean) =>
        deriveFile(`${dir}/in.tsr`, `${dir}/${out}`, {
          specs: parseSpecList(specs),
          variantOnly,
          chunkBytes: 4096,
        });
      await derive("full.tsr", VAR_SPECS, false);
      await derive("edge.tsr", EDGE_SPEC, true);
      return {
        full: await Deno.readFile(`${dir}/full.tsr`),
        edge: await Deno.readFile(`${dir}/edge.tsr`),
      };
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
  return made;
}

/** Installs `demo/var` and `demo/edge` (with a config.json) in the folder layout under `dir`. */
export async function installVariants(dir: string): Promise<void> {
  const { full, edge } = await variantContainers();
  for (const [name, bytes] of [["var", full], ["edge", edge]] as const) {
    const rev = `${dir}/demo/${name}/main`;
    await Deno.mkdir(rev, { recursive: true });
    await Deno.writeFile(`${rev}/model.tsr`, bytes);
    await Deno.writeTextFile(`${rev}/config.json`, '{"model_type":"llama"}\n');
  }
}
