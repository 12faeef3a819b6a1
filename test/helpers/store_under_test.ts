/**
 * Which storage the HTTP tests run on: a folder by default, or, with `TESSERA_TEST_STORE=s3`, a
 * fresh prefix of a loopback S3 server (s3rver with preconditions evaluated) that this module
 * starts when it loads, before any test, and that ends with the test process. The tests set a
 * folder up as they always do; {@link storeUnderTest} then copies it into the bucket (the folder's
 * earlier layout imported first) and names the store the server is started on.
 * @module
 */
import { copyStore } from "../../src/store/copy_store.ts";
import { openFileObjectStore } from "../../src/store/file_object_store.ts";
import { openRepoStore } from "../../src/store/repo_store.ts";
import { openS3ObjectStore } from "../../src/store/s3_object_store.ts";
import { type S3Server, startS3Server } from "./s3_server.ts";

/** Whether this run serves from S3. */
export const S3_SUITE = Deno.env.get("TESSERA_TEST_STORE") === "s3";

/** The S3 server of this process, in an S3 run. */
export const suiteS3: S3Server | null = S3_SUITE
  ? await startS3Server({ conditional: true, unref: true })
  : null;
if (suiteS3) { for (const [k, v] of Object.entries(suiteS3.env)) Deno.env.set(k, v); }

/**
 * The store a server of this run should open for the models set up in folder `dir`: `dir` itself,
 * or in an S3 run a fresh bucket prefix holding a copy of it.
 */
export async function storeUnderTest(dir: string): Promise<string> {
  if (!suiteS3) return dir;
  // Opening the folder as a store imports its earlier layout (what the tests write) as commits.
  const repo = await openRepoStore({ store: dir });
  await repo.close();
  const url = suiteS3.freshStore("suite");
  const from = await openFileObjectStore(dir);
  const to = await openS3ObjectStore(url, { env: suiteS3.env });
  try {
    await copyStore(from, to);
  } finally {
    await from.close();
    await to.close();
  }
  return url;
}
