import assert from "node:assert/strict";
import { bufferReader, openFileReader } from "../../src/io/random_access.ts";
import type { RandomAccessReader } from "../../src/io/random_access.ts";
import { SafetensorsError, type SafetensorsErrorKind } from "../../src/safetensors/errors.ts";
import {
  decodeHeaderLength,
  parseHeader,
  readSafetensorsHeader,
  type SafetensorsHeader,
} from "../../src/safetensors/parse.ts";
import { buildSafetensors, rawSafetensors } from "./fixture.ts";

function read(bytes: Uint8Array): Promise<SafetensorsHeader> {
  return readSafetensorsHeader(bufferReader(bytes));
}

/** Both entry points (async reader and pure parser) must agree on the failure kind. */
async function expectKind(
  bytes: Uint8Array,
  kind: SafetensorsErrorKind,
  message?: RegExp | string,
): Promise<void> {
  const check = (err: unknown) => {
    assert.ok(err instanceof SafetensorsError, `expected SafetensorsError, got ${err}`);
    assert.equal(err.kind, kind, err.message);
    assert.equal(err.name, "SafetensorsError");
    if (typeof message === "string") assert.ok(err.message.includes(message), err.message);
    else if (message) assert.match(err.message, message);
    return true;
  };
  await assert.rejects(read(bytes), check);
  assert.throws(() => {
    const n = decodeHeaderLength(bytes.subarray(0, 8), bytes.length);
    parseHeader(bytes.subarray(8, 8 + n), bytes.length);
  }, check);
}

/** A file whose single tensor "t" has the given info JSON and `dataLength` zero bytes. */
function oneTensor(info: string, dataLength = 0): Uint8Array {
  return rawSafetensors(`{"t":${info}}`, dataLength);
}

function prefixOnly(n: bigint, fileSize: number): Uint8Array {
  const out = new Uint8Array(fileSize);
  new DataView(out.buffer).setBigUint64(0, n, true);
  return out;
}

// ---- valid files ----------------------------------------------------------------------------

Deno.test("parse: valid file with metadata", async () => {
  const bytes = buildSafetensors(
    [
      { name: "embed.weight", dtype: "F32", shape: [4, 3] },
      { name: "norm.bias", dtype: "BF16", shape: [3] },
      { name: "step", dtype: "I64", shape: [1] },
    ],
    { format: "pt", note: "hello" },
  );
  const h = await read(bytes);
  assert.deepEqual(h.metadata, { format: "pt", note: "hello" });
  assert.deepEqual(h.tensors, [
    { name: "embed.weight", dtype: "F32", shape: [4, 3], begin: 0, end: 48 },
    { name: "norm.bias", dtype: "BF16", shape: [3], begin: 48, end: 54 },
    { name: "step", dtype: "I64", shape: [1], begin: 54, end: 62 },
  ]);
  assert.equal(h.dataStart, 8 + h.headerLength);
  assert.equal(h.dataStart % 8, 0);
  assert.equal(h.fileSize, bytes.length);
  assert.equal(h.tensors.at(-1)!.end + h.dataStart, bytes.length);
  assert.deepEqual(h.headerBytes, bytes.subarray(8, h.dataStart));
});

Deno.test("parse: no metadata gives null; no tensors and no data is valid", async () => {
  const h = await read(rawSafetensors("{}"));
  assert.equal(h.metadata, null);
  assert.deepEqual(h.tensors, []);
  const m = await read(rawSafetensors('{"__metadata__":{}}    '));
  assert.deepEqual(m.metadata, {});
  assert.equal(m.headerLength, 23);
});

Deno.test("parse: tensors are sorted by offset, not by header order", async () => {
  const header = JSON.stringify({
    b: { dtype: "U8", shape: [2], data_offsets: [3, 5] },
    a: { dtype: "U8", shape: [3], data_offsets: [0, 3] },
  });
  const h = await read(rawSafetensors(header, 5));
  assert.deepEqual(h.tensors.map((t) => t.name), ["a", "b"]);
});

Deno.test("parse: zero-size tensors are valid and sort before a tensor at the same offset", async () => {
  const header = JSON.stringify({
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    zz: { dtype: "F16", shape: [0, 7], data_offsets: [8, 8] },
    big: { dtype: "U8", shape: [4], data_offsets: [8, 12] },
    z0: { dtype: "F64", shape: [3, 0], data_offsets: [8, 8] },
    tail: { dtype: "BOOL", shape: [0], data_offsets: [12, 12] },
  });
  const h = await read(rawSafetensors(header, 12));
  assert.deepEqual(h.tensors.map((t) => t.name), ["a", "z0", "zz", "big", "tail"]);
  assert.deepEqual(h.tensors[1], { name: "z0", dtype: "F64", shape: [3, 0], begin: 8, end: 8 });
});

Deno.test("parse: a zero dimension makes huge shapes size 0, not an overflow", async () => {
  await read(oneTensor(
    `{"dtype":"F64","shape":[9007199254740991,9007199254740991,0],` +
      `"data_offsets":[0,0]}`,
  ));
});

Deno.test("parse: scalar (shape []) has one element", async () => {
  const bytes = buildSafetensors([{ name: "s", dtype: "F64", shape: [] }]);
  const h = await read(bytes);
  assert.deepEqual(h.tensors, [{ name: "s", dtype: "F64", shape: [], begin: 0, end: 8 }]);
});

Deno.test("parse: trailing space padding is kept verbatim in headerBytes", async () => {
  const bytes = buildSafetensors([{ name: "w", dtype: "U8", shape: [5] }], undefined, {
    extraSpaces: 13,
  });
  const h = await read(bytes);
  const text = new TextDecoder().decode(h.headerBytes);
  assert.ok(text.endsWith(" ".repeat(13)));
  assert.equal(
    text.trimEnd(),
    JSON.stringify({ w: { dtype: "U8", shape: [5], data_offsets: [0, 5] } }),
  );
  assert.equal(h.headerLength, h.headerBytes.length);
  assert.equal(h.dataStart, bytes.length - 5);
});

Deno.test("parse: unpadded header (align 1) is valid", async () => {
  const bytes = buildSafetensors([{ name: "w", dtype: "I32", shape: [2, 2] }], undefined, {
    align: 1,
  });
  const h = await read(bytes);
  assert.equal(new TextDecoder().decode(h.headerBytes).at(-1), "}");
});

Deno.test("parse: unicode names, names with / and :, and unicode metadata", async () => {
  const names = ["model/layers.0/attn:q_proj", "poids/été:Ω", "日本語/テンソル", "emoji😀", ""];
  const bytes = buildSafetensors(
    names.map((name) => ({ name, dtype: "F16" as const, shape: [2, 1] })),
    { "clé": "välue ✓", "path": "a/b:c" },
  );
  const h = await read(bytes);
  assert.deepEqual(h.tensors.map((t) => t.name), names);
  assert.deepEqual(h.metadata, { "clé": "välue ✓", "path": "a/b:c" });
  // Escaped unicode must decode to the same names.
  const escaped = rawSafetensors(
    '{"\\u00e9\\ud83d\\ude00/x:y":{"dtype":"U8","shape":[1],' +
      '"data_offsets":[0,1]}}',
    1,
  );
  assert.equal((await read(escaped)).tensors[0].name, "é😀/x:y");
});

Deno.test("parse: a tensor named __proto__ is an ordinary tensor", async () => {
  const p = await read(rawSafetensors(
    '{"__proto__":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}',
    2,
  ));
  assert.deepEqual(p.tensors.map((t) => t.name), ["__proto__"]);
});

Deno.test("parse: every dtype is accepted with its width", async () => {
  const dtypes = [
    ["BOOL", 1],
    ["U8", 1],
    ["I8", 1],
    ["F8_E5M2", 1],
    ["F8_E4M3", 1],
    ["I16", 2],
    ["U16", 2],
    ["F16", 2],
    ["BF16", 2],
    ["I32", 4],
    ["U32", 4],
    ["F32", 4],
    ["F64", 8],
    ["I64", 8],
    ["U64", 8],
  ] as const;
  const h = await read(buildSafetensors(dtypes.map(([d]) => ({ name: d, dtype: d, shape: [3] }))));
  for (const [i, [d, w]] of dtypes.entries()) {
    assert.equal(h.tensors[i].dtype, d);
    assert.equal(h.tensors[i].end - h.tensors[i].begin, 3 * w);
  }
});

Deno.test("parse: readSafetensorsHeader never reads the data section", async () => {
  const bytes = buildSafetensors([{ name: "w", dtype: "F32", shape: [64, 64] }]);
  const inner = bufferReader(bytes);
  const reads: [number, number][] = [];
  const spy: RandomAccessReader = {
    size: inner.size,
    readAt(offset, length) {
      reads.push([offset, length]);
      return inner.readAt(offset, length);
    },
    close: () => inner.close(),
  };
  const h = await readSafetensorsHeader(spy);
  assert.deepEqual(reads, [[0, 8], [8, h.headerLength]]);
});

// ---- one test per error kind ---------------------------------------------------------------

Deno.test("error file_too_small", async () => {
  for (const n of [0, 1, 7]) await expectKind(new Uint8Array(n), "file_too_small", /8 bytes/);
});

Deno.test("error header_too_large", async () => {
  await expectKind(prefixOnly(100_000_001n, 16), "header_too_large", "100000001");
  await expectKind(prefixOnly(2n ** 64n - 1n, 16), "header_too_large", "18446744073709551615");
});

Deno.test("error header_length_exceeds_file", async () => {
  await expectKind(prefixOnly(100n, 20), "header_length_exceeds_file", /100 .*108 bytes.* 20/);
  await expectKind(prefixOnly(1n, 8), "header_length_exceeds_file");
  await expectKind(rawSafetensors("{}").subarray(0, 9), "header_length_exceeds_file");
});

Deno.test("error header_not_utf8", async () => {
  await expectKind(rawSafetensors(new Uint8Array([0x7b, 0xff, 0x7d])), "header_not_utf8");
  // A lone surrogate encoded as UTF-8 (CESU) is also invalid.
  const bytes = new Uint8Array([...new TextEncoder().encode('{"'), 0xed, 0xa0, 0x80, 0x22, 0x7d]);
  await expectKind(rawSafetensors(bytes), "header_not_utf8");
});

Deno.test("error header_invalid_json", async () => {
  for (const h of ['{"t":}', '{"t" 1}', "{", '{"a":1,}', '{"a":"\\q"}', "{'a':1}"]) {
    await expectKind(rawSafetensors(h), "header_invalid_json", /position/);
  }
  const deep = '{"a":' + "[".repeat(100_000) + "]".repeat(100_000) + "}";
  await expectKind(rawSafetensors(deep), "header_invalid_json", /nesting deeper than 64/);
});

Deno.test("error header_not_object", async () => {
  for (const h of ["[]", '"x"', "42", "null", "true", "[1,2]   "]) {
    await expectKind(rawSafetensors(h), "header_not_object");
  }
});

Deno.test("error header_bad_start", async () => {
  for (const h of [" {}", "\n{}", "", "x{}", "\ufeff{}"]) {
    await expectKind(rawSafetensors(h), "header_bad_start", /start with "\{"/);
  }
});

Deno.test("error header_trailing_garbage", async () => {
  for (const h of ["{}\n", "{} x", "{}{}", "{}\t", "{}  \0"]) {
    await expectKind(rawSafetensors(h), "header_trailing_garbage", /only spaces/);
  }
});

Deno.test("error duplicate_key", async () => {
  const info = '{"dtype":"U8","shape":[1],"data_offsets":[0,1]}';
  await expectKind(rawSafetensors(`{"w":${info},"w":${info}}`, 1), "duplicate_key", '"w" twice');
  await expectKind(
    rawSafetensors('{"__metadata__":{"k":"a","k":"b"}}'),
    "duplicate_key",
    '"k"',
  );
  await expectKind(
    oneTensor('{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}', 1),
    "duplicate_key",
  );
});

Deno.test("error metadata_invalid", async () => {
  for (const m of ['{"k":1}', '{"k":null}', '{"k":{"a":"b"}}', "[]", "null", '"s"']) {
    await expectKind(rawSafetensors(`{"__metadata__":${m}}`), "metadata_invalid", /__metadata__/);
  }
});

Deno.test("error tensor_invalid_info", async () => {
  const cases = [
    "[]",
    "null",
    '"F32"',
    '{"dtype":"U8","shape":[1]}',
    '{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":1}',
    '{"dtype":"U8","shape":[1],"offsets":[0,1]}',
    '{"dtype":1,"shape":[1],"data_offsets":[0,1]}',
    '{"dtype":"U8","shape":1,"data_offsets":[0,1]}',
    '{"dtype":"U8","shape":[1],"data_offsets":{"0":0,"1":1}}',
  ];
  for (const info of cases) {
    await expectKind(oneTensor(info, 1), "tensor_invalid_info", /tensor "t": expected/);
  }
});

Deno.test("error unknown_dtype", async () => {
  for (const d of ["F128", "f32", "", "float32", "constructor"]) {
    await expectKind(
      oneTensor(`{"dtype":${JSON.stringify(d)},"shape":[1],"data_offsets":[0,1]}`, 1),
      "unknown_dtype",
      `tensor "t": unknown dtype ${JSON.stringify(d)}`,
    );
  }
});

Deno.test("error invalid_shape", async () => {
  for (const s of ["[-1]", "[1.5]", '["2"]', "[null]", "[9007199254740992]", "[[1]]", "[1e300]"]) {
    await expectKind(
      oneTensor(`{"dtype":"U8","shape":${s},"data_offsets":[0,1]}`, 1),
      "invalid_shape",
      /tensor "t": expected shape of non-negative integers/,
    );
  }
});

Deno.test("error invalid_offsets", async () => {
  for (const o of ["[0]", "[]", "[0,1,2]", "[4,2]", "[-1,0]", "[0,1.5]", '["0",1]', "[0,1e20]"]) {
    await expectKind(
      oneTensor(`{"dtype":"U8","shape":[1],"data_offsets":${o}}`, 1),
      "invalid_offsets",
      /tensor "t": expected data_offsets \[begin, end\]/,
    );
  }
});

Deno.test("error offsets_not_contiguous", async () => {
  const gapAtStart = JSON.stringify({ a: { dtype: "U8", shape: [2], data_offsets: [4, 6] } });
  await expectKind(rawSafetensors(gapAtStart, 6), "offsets_not_contiguous", /starts at 0.*a gap/);
  const gap = JSON.stringify({
    a: { dtype: "U8", shape: [2], data_offsets: [0, 2] },
    b: { dtype: "U8", shape: [2], data_offsets: [3, 5] },
  });
  await expectKind(
    rawSafetensors(gap, 5),
    "offsets_not_contiguous",
    'tensor "b": expected to begin at 2 (tensor "a" ends at 2), got 3: a gap',
  );
  const overlap = JSON.stringify({
    a: { dtype: "U8", shape: [4], data_offsets: [0, 4] },
    b: { dtype: "U8", shape: [4], data_offsets: [2, 6] },
  });
  await expectKind(rawSafetensors(overlap, 6), "offsets_not_contiguous", /an overlap/);
  const same = JSON.stringify({
    a: { dtype: "U8", shape: [4], data_offsets: [0, 4] },
    b: { dtype: "U8", shape: [4], data_offsets: [0, 4] },
  });
  await expectKind(rawSafetensors(same, 4), "offsets_not_contiguous", /an overlap/);
});

Deno.test("error size_mismatch", async () => {
  await expectKind(
    rawSafetensors('{"x":{"dtype":"F16","shape":[2,3],"data_offsets":[0,10]}}', 10),
    "size_mismatch",
    'tensor "x": shape [2,3] × 2 bytes = 12, but data_offsets span 10',
  );
  await expectKind(
    oneTensor('{"dtype":"F32","shape":[],"data_offsets":[0,8]}', 8),
    "size_mismatch",
    "shape [] × 4 bytes = 4",
  );
  await expectKind(
    oneTensor('{"dtype":"U8","shape":[0],"data_offsets":[0,1]}', 1),
    "size_mismatch",
  );
});

Deno.test("error size_overflow", async () => {
  await expectKind(
    oneTensor('{"dtype":"F32","shape":[67108864,67108864,67108864],"data_offsets":[0,0]}'),
    "size_overflow",
    /tensor "t": shape \[67108864,67108864,67108864\] × 4 bytes exceeds 9007199254740991/,
  );
  // The width alone can push a safe element count past the limit.
  await expectKind(
    oneTensor('{"dtype":"F64","shape":[9007199254740991],"data_offsets":[0,0]}'),
    "size_overflow",
  );
});

Deno.test("error data_length_mismatch", async () => {
  const info = '{"dtype":"U8","shape":[4],"data_offsets":[0,4]}';
  await expectKind(oneTensor(info, 5), "data_length_mismatch", /expected a data section of 4.* 5/);
  await expectKind(oneTensor(info, 3), "data_length_mismatch", /4 bytes.* 3 bytes/);
  await expectKind(rawSafetensors("{}", 1), "data_length_mismatch", /of 0 bytes/);
  await expectKind(rawSafetensors('{"__metadata__":{}}', 8), "data_length_mismatch");
});

Deno.test("parseHeader checks header length against the file itself", () => {
  assert.throws(
    () => parseHeader(new TextEncoder().encode("{}"), 9),
    (e: unknown) => e instanceof SafetensorsError && e.kind === "header_length_exceeds_file",
  );
  assert.throws(
    () => parseHeader(new Uint8Array(0), 4),
    (e: unknown) => e instanceof SafetensorsError && e.kind === "file_too_small",
  );
});

Deno.test("error: every kind is covered and none escapes as another error type", async () => {
  // Mutating single bytes of a valid file must only ever yield SafetensorsError or success.
  const base = buildSafetensors(
    [{ name: "a/b:c", dtype: "F16", shape: [2, 3] }, { name: "z", dtype: "U8", shape: [0] }],
    { k: "v" },
  );
  for (let i = 0; i < base.length; i++) {
    for (const v of [0x00, 0x20, 0x22, 0x30, 0x5b, 0x7b, 0x7d, 0xff]) {
      const bytes = base.slice();
      bytes[i] = v;
      try {
        await read(bytes);
      } catch (err) {
        assert.ok(err instanceof SafetensorsError, `byte ${i}=${v}: ${err}`);
      }
    }
  }
});

// ---- real files ------------------------------------------------------------------------------

const EXPECTED_COUNTS: Record<string, number> = {
  stories260k: 47,
  ppocrv4: 693,
  "human-fp32": 1184,
};

Deno.test("parse: real files in ../shared/data", async () => {
  const dir = new URL("../../../shared/data/", import.meta.url);
  let names: string[];
  try {
    names = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".safetensors")) names.push(e.name);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    console.log(`note: ${dir.pathname} missing; skipping real-file test`);
    return;
  }
  names.sort();
  for (const name of names) {
    const reader = await openFileReader(new URL(name, dir).pathname);
    try {
      const h = await readSafetensorsHeader(reader);
      const model = name.split(".")[0];
      if (model in EXPECTED_COUNTS) {
        assert.equal(h.tensors.length, EXPECTED_COUNTS[model], name);
      }
      assert.ok(h.tensors.length > 0, name);
      assert.equal(h.tensors.at(-1)!.end + h.dataStart, reader.size, name);
      assert.equal(h.fileSize, reader.size);
    } finally {
      reader.close();
    }
  }
});
