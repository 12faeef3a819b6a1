/**
 * The container map: segments cover every byte once, never cut a chunk, and verify exactly the
 * bytes of the container (any flipped byte, in a chunk, the header, the index, the head or a gap,
 * is caught and, in a chunk, named by tensor and chunk).
 */
import assert from "node:assert/strict";
import { nativeBackends } from "../../src/codec_native/backends.ts";
import { openContainer } from "../../src/container/open.ts";
import { bufferSource } from "../../src/container/source.ts";
import { containerMap, CUT } from "../../src/edge/container_map.ts";
import { demoContainer } from "../server/harness.ts";
import { packFile } from "../../src/pack/write.ts";
import { DEMO_MODEL } from "../../src/cli/demo.ts";

Deno.test("container map: segments tile the container and verify it; every flip is caught", async () => {
  const bytes = await demoContainer();
  const c = await openContainer(bufferSource(bytes), nativeBackends());
  const map = containerMap(c, bytes.slice(0, 64), 16 << 10);
  let at = 0;
  for (const s of map.segments) {
    assert.equal(s.start, at, "no gap, no overlap");
    at = s.end;
    assert.equal(map.verify(s.index, bytes.slice(s.start, s.end)), null, `segment ${s.index}`);
  }
  assert.equal(at, bytes.length);
  // Chunks are never cut: every chunk lies inside one segment.
  for (const t of c.index.tensors) {
    for (const r of (t.encodings[0] as { chunks: number[][] }).chunks) {
      const segs = map.covering(r[0], r[0] + r[1]);
      assert.equal(segs.length, r[1] > 0 ? 1 : 0, `${t.name} chunk at ${r[0]}`);
    }
  }
  // Flip bytes all over: each is caught by its segment.
  for (let pos = 0; pos < bytes.length; pos += 997) {
    const [i] = map.covering(pos, pos + 1);
    const s = map.segments[i];
    const copy = bytes.slice(s.start, s.end);
    copy[pos - s.start] ^= 1;
    assert.notEqual(map.verify(i, copy), null, `a flip at ${pos} passed`);
  }
  // A chunk failure names the tensor and the chunk.
  const t = c.index.tensors.find((x) => x.name === "model.layers.0.self_attn.q_proj.weight")!;
  const r = (t.encodings[0] as { chunks: number[][] }).chunks[0];
  const [i] = map.covering(r[0], r[0] + 1);
  const copy = bytes.slice(map.segments[i].start, map.segments[i].end);
  copy[r[0] - map.segments[i].start + 3] ^= 0x80;
  const f = map.verify(i, copy)!;
  assert.equal(f.tensor, t.name);
  assert.equal(f.chunk, 0);
  assert.match(f.what, /chunk 0 of tensor model\.layers\.0\.self_attn\.q_proj\.weight/);
  // Layers: in load order, each with its segments.
  assert.equal(map.layers[0], "model.embed_tokens");
  assert.ok(map.layerSegments("model.layers.1").length > 0);
  assert.equal(map.layerAt(r[0]), "model.layers.0");
});

Deno.test("container map: a part of a segment is checked on its own: whole chunks pass, a flip or a non-zero gap fails, a cut chunk is CUT", async () => {
  // Chunks aligned to 4 KiB, so that zero gaps lie between them.
  const dir = await Deno.makeTempDir();
  let bytes: Uint8Array;
  try {
    await packFile(DEMO_MODEL, `${dir}/m.tsr`, { mode: "fast", alignment: 4096 });
    bytes = await Deno.readFile(`${dir}/m.tsr`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const c = await openContainer(bufferSource(bytes), nativeBackends());
  const map = containerMap(c, bytes.slice(0, 64), 16 << 10);
  // Every chunk alone, as a reader reads it: right as it is, wrong with any byte flipped.
  let checked = 0, gaps = 0;
  for (const t of c.index.tensors) {
    for (const r of (t.encodings[0] as { chunks: number[][] }).chunks) {
      if (r[1] === 0) continue;
      const [i] = map.covering(r[0], r[0] + r[1]);
      const part = bytes.slice(r[0], r[0] + r[1]);
      assert.equal(map.verifyPart(i, r[0], part), null, `${t.name} chunk at ${r[0]}`);
      for (const k of [0, part.length >> 1, part.length - 1]) {
        const bad = part.slice();
        bad[k] ^= 1;
        const f = map.verifyPart(i, r[0], bad);
        assert.ok(f !== null && f !== CUT, `a flip at ${r[0] + k} passed`);
      }
      // Cutting the chunk, at either end, asks for the whole segment.
      if (r[1] > 1) {
        assert.equal(map.verifyPart(i, r[0] + 1, bytes.slice(r[0] + 1, r[0] + r[1])), CUT);
        assert.equal(map.verifyPart(i, r[0], bytes.slice(r[0], r[0] + r[1] - 1)), CUT);
      }
      // With the gap before it (zero bytes written between regions): a non-zero byte there fails.
      const s = map.segments[i];
      const u = s.units.find((x) => x.dataStart === r[0]);
      if (u && u.start < u.dataStart) {
        const withGap = bytes.slice(u.start, r[0] + r[1]);
        assert.equal(map.verifyPart(i, u.start, withGap), null);
        withGap[0] ^= 1;
        assert.match((map.verifyPart(i, u.start, withGap) as { what: string }).what, /not zero/);
        gaps++;
      }
      checked++;
    }
  }
  assert.ok(checked > 10 && gaps > 0, `${checked} chunks, ${gaps} with a gap`);
});
