import assert from "node:assert/strict";
import { buildView } from "../../src/server/commit_views.ts";
import { manifestBody } from "../../src/server/manifest.ts";
import type { ServedRevision } from "../../src/server/variant_revisions.ts";

function revision(revisionName: string, commitId: string): ServedRevision {
  const commit = { id: commitId, files: [] };
  return {
    org: "a",
    name: "b",
    id: "a/b",
    revision: revisionName,
    branch: revisionName === commitId ? null : revisionName,
    commit,
    variant: null,
    source: commit,
  } as unknown as ServedRevision;
}

Deno.test("manifestBody: built and checked once per commit view and revision name", () => {
  const view = buildView([]);
  const commit = "1".repeat(40);
  const first = manifestBody(revision("main", commit), view);
  assert.equal(manifestBody(revision("main", commit), view), first, "served from memory");
  const manifest = JSON.parse(new TextDecoder().decode(first.bytes));
  assert.equal(manifest.revision, "main");
  assert.equal(manifest.commit, commit);
  // The body names the revision as asked, so a commit id gets its own.
  const byId = manifestBody(revision(commit, commit), view);
  assert.notEqual(byId.sha256, first.sha256);
  assert.equal(JSON.parse(new TextDecoder().decode(byId.bytes)).revision, commit);
  // Another commit has another view, hence another body.
  assert.notEqual(manifestBody(revision("main", "2".repeat(40)), buildView([])), first);
});
