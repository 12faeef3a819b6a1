/**
 * A chunk record swapped with another of the same tensor, or copied from another tensor with the
 * same raw length, passes every chunk checksum (each record's checksums travel with it) and
 * decoded the wrong bytes through the original stream: found by the fuzzer's long run. Chunks must
 * lie in index order without overlapping each other or the stored header (cross-field rule 12).
 */
import { buildSafetensors } from "../safetensors/fixture.ts";
import {
  editIndex,
  expectContainerError,
  openBytes,
  packBytes,
  withTempDir,
} from "../helpers/container.ts";
import { normalBf16, Rng } from "../codec/prng.ts";

type Chunks = [number, number, number, number, number][];
type Json = {
  tensors: { encodings: { kind: string; chunks: Chunks }[] }[];
  source: { header: { offset: number } };
};

const SOURCE = buildSafetensors([
  { name: "a", dtype: "BF16", shape: [32, 32], data: normalBf16(new Rng(1), 1024) },
  { name: "b", dtype: "BF16", shape: [32, 32], data: normalBf16(new Rng(2), 1024) },
]);

const chunksOf = (j: Json, t: number) => j.tensors[t].encodings[0].chunks;

Deno.test("chunk order: swapped or copied chunk records are index_invalid at open", async () => {
  await withTempDir(async (dir) => {
    const { bytes } = await packBytes(SOURCE, dir, { chunkBytes: 512, mode: "fast" });
    await openBytes(bytes); // control: the writer's order passes
    const edits: [string, (j: Json) => void][] = [
      ["two records of one tensor swapped", (j) => {
        const c = chunksOf(j, 0);
        [c[0], c[1]] = [c[1], c[0]];
      }],
      ["a record copied from another tensor", (j) => {
        chunksOf(j, 0)[0] = [...chunksOf(j, 1)[0]];
      }],
      ["a record copied within a tensor", (j) => {
        const c = chunksOf(j, 1);
        c[c.length - 1] = [...c[0]];
      }],
      ["a chunk moved onto the stored header", (j) => {
        chunksOf(j, 0)[0][0] = j.source.header.offset;
      }],
    ];
    for (const [, edit] of edits) {
      await expectContainerError(
        openBytes(editIndex(bytes, (j) => void edit(j as unknown as Json))),
        "index_invalid",
      );
    }
  });
});

type Encoding = { kind: string; name?: string; chunks?: Chunks };
type VariantJson = { tensors: { name: string; encodings: Encoding[] }[] };

Deno.test("chunk order: variant records swapped, or laid over another chunk, are index_invalid", async () => {
  const bytes = await Deno.readFile(new URL("../fixtures/kat/variants.tsr", import.meta.url));
  await openBytes(bytes); // control: the writer's places pass
  const json = (await openBytes(bytes)).index as unknown as VariantJson;
  // A variant with two chunks of one raw length in one tensor, and the lossless chunks.
  const pick = (j: VariantJson) => {
    for (const t of j.tensors) {
      for (const e of t.encodings) {
        const c = e.chunks ?? [];
        if (e.kind === "lossless" || c.length < 2) continue;
        for (let a = 0; a < c.length; a++) {
          for (let b = a + 1; b < c.length; b++) if (c[a][2] === c[b][2]) return { c, a, b };
        }
      }
    }
    throw new Error("the fixture has no variant with two chunks of one raw length");
  };
  pick(json);
  const lossless = (j: VariantJson) =>
    j.tensors.flatMap((t) => t.encodings.filter((e) => e.kind === "lossless"))
      .flatMap((e) => e.chunks ?? []);
  const edits: [string, (j: VariantJson) => void][] = [
    ["two records of one variant swapped", (j) => {
      const { c, a, b } = pick(j);
      [c[a], c[b]] = [c[b], c[a]];
    }],
    ["a variant record laid over a lossless chunk", (j) => {
      const { c, a } = pick(j);
      c[a][0] = lossless(j)[0][0];
    }],
  ];
  for (const [what, edit] of edits) {
    await expectContainerError(
      openBytes(editIndex(bytes, (j) => void edit(j as unknown as VariantJson))),
      "index_invalid",
    ).catch((e) => {
      throw new Error(`${what}: ${e.message}`);
    });
  }
});
