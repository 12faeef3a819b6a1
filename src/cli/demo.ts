/**
 * `demo [--out DIR]`: packs the shipped model, verifies, inspects, extracts a tile and unpacks it
 * again, so a new user sees every step work on a fresh machine.
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { sha256Hex } from "../hash/sha256.ts";
import { inspect } from "./inspect.ts";
import { pack } from "./pack.ts";
import { verify } from "./verify.ts";
import { unpack } from "./unpack.ts";
import { extract } from "./extract.ts";

/** The model shipped in the repository. */
export const DEMO_MODEL = fileURLToPath(
  new URL("../../test/fixtures/stories260k.bf16.safetensors", import.meta.url),
);

/** Runs the demo; returns the exit code. */
export async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { out: { type: "string", default: "models/demo/stories260k/main" } },
  });
  const dir = values.out!;
  await Deno.mkdir(dir, { recursive: true });
  const container = `${dir}/model.tsr`;
  const step = (s: string) => console.log(`\n== ${s}`);
  step(`pack ${DEMO_MODEL} -> ${container}`);
  if (await pack([DEMO_MODEL, container, "--mode", "best"]) !== 0) return 1;
  step(`verify ${container}`);
  if (await verify([container]) !== 0) return 1;
  step(`inspect ${container}`);
  await inspect([container]);
  const tmp = await Deno.makeTempDir({ prefix: "tessera-demo-" });
  try {
    step("extract rows 0:4, cols 0:8 of model.embed_tokens.weight");
    const tile = `${tmp}/tile.bin`;
    await extract([
      container,
      "model.embed_tokens.weight",
      "--rows",
      "0:4",
      "--cols",
      "0:8",
      "-o",
      tile,
    ]);
    const bytes = await Deno.readFile(tile);
    const values = Array.from(
      new Uint16Array(bytes.buffer),
      (u) => new Float32Array(new Uint32Array([u << 16]).buffer)[0],
    );
    console.log(`first row: ${values.slice(0, 8).map((v) => v.toFixed(4)).join(" ")}`);
    step("unpack and compare with the original");
    const restored = `${tmp}/restored.safetensors`;
    if (await unpack([container, restored]) !== 0) return 1;
    const [a, b] = [
      sha256Hex(await Deno.readFile(DEMO_MODEL)),
      sha256Hex(await Deno.readFile(restored)),
    ];
    console.log(a === b ? `byte-identical: sha256 ${a}` : `MISMATCH: ${a} vs ${b}`);
    return a === b ? 0 : 1;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
