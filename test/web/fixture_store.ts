/**
 * The models the browser tests and the screenshots serve, in the folder layout the store imports
 * when it opens (`<org>/<name>/<revision>/model.tsr` and files beside it):
 *
 * - `demo/stories260k` (the shared stories260k.bf16, else the committed fixture), `main` with
 *   variants `int8` and `fp16` derived into it, and a `dev` branch without them;
 * - `shared/ppocrv4.bf16`, a real 8 MB OCR model, for the in-browser download (without
 *   ../shared/data, `shared/ppocr-stand-in`: the committed stories260k in 16 KiB chunks);
 * - with `many: true`, `bench/synthetic` (the 3,041-tensor model of bench:transfer, 325 MB raw,
 *   packed `fast`), for page load times.
 * @module
 */
import { parseSpecList } from "../../codec/variants/spec.ts";
import { deriveFile } from "../../src/pack/derive.ts";
import { packFile } from "../../src/pack/write.ts";
import { buildSyntheticModel } from "../../bench/transfer/synthetic_model.ts";
import { realModel, SHARED_DATA } from "../helpers/repos.ts";

/** What a fixture store holds. */
export interface FixtureModels {
  /** `org/name` of the small Llama with variants. */
  readonly llama: string;
  /** `org/name` and original path of the model downloaded in the browser. */
  readonly download: { readonly id: string; readonly path: string; readonly sha256: string };
  /** `org/name` of the 3,041-tensor model, when built. */
  readonly many?: string;
}

async function sha256File(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Fills `dir` with the fixture models; returns their ids. */
export async function writeFixtureModels(
  dir: string,
  options: { many?: boolean } = {},
): Promise<FixtureModels> {
  const rev = async (id: string, branch: string) => {
    const folder = `${dir}/${id}/${branch}`;
    await Deno.mkdir(folder, { recursive: true });
    return folder;
  };
  const stories = realModel("stories260k.bf16.safetensors");
  const dev = await rev("demo/stories260k", "dev");
  await packFile(stories.path, `${dev}/model.tsr`, { mode: "best" });
  await Deno.writeTextFile(
    `${dev}/config.json`,
    JSON.stringify({ model_type: "llama", hidden_size: 64, num_hidden_layers: 5 }) + "\n",
  );
  const main = await rev("demo/stories260k", "main");
  await deriveFile(`${dev}/model.tsr`, `${main}/model.tsr`, {
    specs: parseSpecList("int8,fp16"),
  });
  await Deno.copyFile(`${dev}/config.json`, `${main}/config.json`);
  await Deno.writeTextFile(`${main}/README.md`, "# stories260k\n\nA tiny Llama (llama2.c).\n");

  const ocr = realModel("ppocrv4.bf16.safetensors");
  // Without ../shared/data the committed stories260k stands in, under a name the tests' searches
  // treat like the OCR model's, and in 16 KiB chunks so that its largest tensor has several tiles.
  const ocrId = ocr.shared ? "shared/ppocrv4.bf16" : "shared/ppocr-stand-in";
  await packFile(ocr.path, `${await rev(ocrId, "main")}/model.tsr`, {
    mode: "fast",
    ...(ocr.shared ? {} : { chunkBytes: 16 << 10 }),
  });

  let many: string | undefined;
  if (options.many) {
    const tmp = await Deno.makeTempDir({ prefix: "tessera_synth_" });
    try {
      const m = await buildSyntheticModel({
        dataDir: SHARED_DATA,
        out: `${tmp}/model.safetensors`,
      });
      await packFile(m.path, `${await rev("bench/synthetic", "main")}/model.tsr`, { mode: "fast" });
      many = "bench/synthetic";
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  }
  return {
    llama: "demo/stories260k",
    download: { id: ocrId, path: ocr.path, sha256: await sha256File(ocr.path) },
    ...(many && { many }),
  };
}
