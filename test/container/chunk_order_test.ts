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
