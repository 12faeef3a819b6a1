/**
 * The loader refuses a native library built from other sources than those in native/, with one
 * warning line, and loads one built from them: the same interface version is no proof of the same
 * code (a library left from an older checkout once crashed a process on a newer layout).
 * Skipped without a C compiler.
 */
import assert from "node:assert/strict";
import { openNativeLibrary } from "../../src/codec_native/kernel.ts";
import { NATIVE_SOURCES, nativeSources } from "../../src/codec_native/source_digest.ts";
import { createHash } from "node:crypto";

const BUILD_INFO = new URL("../../native/tsr_build_info.c", import.meta.url).pathname;

function hasCompiler(): boolean {
  try {
    return new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

async function build(dir: string, name: string, digest: string): Promise<URL> {
  const out = `${dir}/${name}.so`;
  const r = await new Deno.Command("cc", {
    args: [
      "-O0",
      "-std=c11",
      "-fPIC",
      "-shared",
      `-DTSR_SOURCE_SHA256="${digest}"`,
      "-o",
      out,
      ...NATIVE_SOURCES.map((u) => u.pathname),
      BUILD_INFO,
    ],
    stderr: "piped",
  }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  return new URL(`file://${out}`);
}

Deno.test({
  name: "native loader: a library built from other sources is refused, one from these loads",
  ignore: !hasCompiler(),
  async fn() {
    const dir = await Deno.makeTempDir();
    const warned: string[] = [], warn = console.warn;
    console.warn = (...a: unknown[]) => warned.push(a.join(" "));
    try {
      const digest = createHash("sha256").update(nativeSources()!).digest("hex");
      assert.match(digest, /^[0-9a-f]{64}$/);
      const other = await build(dir, "other", "0".repeat(64));
      assert.equal(openNativeLibrary(other), undefined);
      assert.equal(warned.length, 1);
      assert.match(warned[0], /built from other sources/);
      const same = await build(dir, "same", digest);
      const lib = openNativeLibrary(same);
      assert.ok(lib, warned.join("\n"));
      assert.equal(lib.xxh32(new Uint8Array(0)), 0x02cc5d05); // XXH32 of nothing, seed 0
      assert.equal(warned.length, 1);
    } finally {
      console.warn = warn;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
