/**
 * `push` and `import`: a local folder (shards, an index, configs, a subfolder) becomes one commit
 * whose tree is exactly the folder; pushing again sends nothing; an interrupted push says what
 * the server kept, and the next push does not send it again.
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { pushFolder } from "../../src/cli/push.ts";
import { main } from "../../src/cli/main.ts";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { withTempDir } from "../helpers/container.ts";
import { type RepoFile, splitSafetensors } from "../helpers/repos.ts";
import { spawnServer } from "../helpers/server_process.ts";
import { ORIGINAL, withServer } from "../server/harness.ts";

const TOKEN = "tok";
const enc = new TextEncoder();
const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

async function writeFolder(dir: string, files: readonly RepoFile[]): Promise<void> {
  for (const f of files) {
    const path = `${dir}/${f.path}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(path, f.bytes);
  }
}

function folder(): RepoFile[] {
  return [
    ...splitSafetensors(ORIGINAL, 3),
    { path: "config.json", bytes: enc.encode('{"model_type":"llama"}') },
    { path: "tokenizer/vocab.txt", bytes: enc.encode("a\nb\n") },
  ];
}

async function served(url: string, id: string): Promise<Map<string, string>> {
  const tree = await (await fetch(`${url}/api/models/${id}/tree/main?recursive=true`)).json();
  const out = new Map<string, string>();
  for (const e of tree.filter((e: { type: string }) => e.type === "file")) {
    const r = await fetch(`${url}/${id}/resolve/main/${e.path}`);
    out.set(e.path, sha256Hex(new Uint8Array(await r.arrayBuffer())));
  }
  return out;
}

const want = (files: readonly RepoFile[]) =>
  new Map(files.map((f) => [f.path, sha256Hex(f.bytes)] as [string, string]).sort());

Deno.test("push: a folder becomes one commit with exactly its files; again, nothing is sent", async () => {
  await withTempDir(async (dir) => {
    const files = folder();
    await writeFolder(`${dir}/m`, files);
    await Deno.mkdir(`${dir}/m/.git`);
    await Deno.writeTextFile(`${dir}/m/.git/HEAD`, "ref: refs/heads/main\n");
    await withServer(async ({ url }) => {
      const first = await pushFolder({ dir: `${dir}/m`, url: `${url}/acme/pushed`, token: TOKEN });
      assert.equal(first.created, true);
      assert.equal(first.files, files.length);
      assert.deepEqual(new Map([...await served(url, "acme/pushed")].sort()), want(files));
      const again = await pushFolder({ dir: `${dir}/m`, url: `${url}/acme/pushed`, token: TOKEN });
      assert.equal(again.uploaded, 0, "every content is already on the server");
      assert.equal(again.created, false);
      assert.equal(again.commit, first.commit);
      // A file removed from the folder leaves the tree on the next push.
      await Deno.remove(`${dir}/m/tokenizer/vocab.txt`);
      const third = await pushFolder({ dir: `${dir}/m`, url: `${url}/acme/pushed`, token: TOKEN });
      assert.equal(third.created, true);
      assert.ok(!(await served(url, "acme/pushed")).has("tokenizer/vocab.txt"));
    }, { token: TOKEN });
  });
});

Deno.test("push: Ctrl-C says what the server kept; the next push does not send it again", async () => {
  await withTempDir(async (dir) => {
    const files = folder();
    await writeFolder(`${dir}/m`, files);
    const s = await spawnServer(`${dir}/models`, ["--token", TOKEN]);
    try {
      // Interrupted once the first files are on the server.
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, "push", `${dir}/m`, `${s.url}/acme/ctrlc`, "--token", TOKEN],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      for (let i = 0; i < 400; i++) {
        const held = await Promise.all(files.map(async (f) => {
          const r = await fetch(`${s.url}/v1/models/acme/ctrlc/uploads/${sha256Hex(f.bytes)}`, {
            method: "HEAD",
            headers: { Authorization: `Bearer ${TOKEN}` },
          });
          await r.body?.cancel();
          return r.status === 200;
        }));
        if (held.some(Boolean)) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      child.kill("SIGINT");
      const out = await child.output();
      const err = new TextDecoder().decode(out.stderr).trim();
      if (out.code === 0) {
        // The push finished before the signal: nothing to resume, which is fine.
        assert.match(new TextDecoder().decode(out.stdout), /commit [0-9a-f]{40}/);
      } else {
        assert.equal(out.code, 130, err);
        const lines = err.split("\n").filter((l) => !l.startsWith("\r") && l.trim() !== "");
        assert.equal(lines.length, 1, err);
        assert.match(
          lines[0],
          /^interrupted: nothing was published; \d+ file\(s\) .* kept for 24 h/,
        );
        const tree = await fetch(`${s.url}/api/models/acme/ctrlc/tree/main`);
        assert.equal(tree.status, 404, "no commit was made");
        await tree.body?.cancel();
      }
      const resumed = await pushFolder({
        dir: `${dir}/m`,
        url: `${s.url}/acme/ctrlc`,
        token: TOKEN,
      });
      assert.ok(resumed.uploaded < files.length, "what the server kept was not sent again");
      assert.deepEqual(new Map([...await served(s.url, "acme/ctrlc")].sort()), want(files));
    } finally {
      await s.kill("SIGKILL");
    }
  });
});

Deno.test("import: a folder packed straight into a store, refused while a server holds it", async () => {
  await withTempDir(async (dir) => {
    const files = folder();
    await writeFolder(`${dir}/snapshot`, files);
    // Relative paths, as typed in the folder the command runs in.
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    let code;
    try {
      code = await main(["import", "snapshot", "models/acme/imported", "--mode", "fast"]);
    } finally {
      Deno.chdir(cwd);
    }
    assert.equal(code, 0);
    const s = await spawnServer(`${dir}/models`);
    try {
      assert.deepEqual(new Map([...await served(s.url, "acme/imported")].sort()), want(files));
      const busy = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, "import", `${dir}/snapshot`, `${dir}/models/acme/again`],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      assert.equal(busy.code, 1);
      const err = new TextDecoder().decode(busy.stderr).trim();
      assert.equal(err.split("\n").length, 1, err);
      assert.match(err, /in use by another Tessera process/);
    } finally {
      await s.kill("SIGKILL");
    }
  });
});
