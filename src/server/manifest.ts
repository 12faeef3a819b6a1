/**
 * The manifest of a model revision: what a client needs to load it tensor by tensor or layer by
 * layer, and to check every byte it receives.
 * @module
 */
import type { z } from "zod";
import { losslessOf } from "../container/index_schema.ts";
import type { ContainerLease } from "../store/container_leases.ts";
import type { RevisionSnapshot } from "../store/model_store.ts";
import type { manifestSchema } from "./schemas.ts";

/** A manifest body. */
export type Manifest = z.infer<typeof manifestSchema>;

/** Path of the raw container of a revision, as the manifest and the HF routes name it. */
export function containerPath(org: string, name: string, revision: string): string {
  return `/v1/models/${encodeURIComponent(org)}/${encodeURIComponent(name)}/container?revision=${
    encodeURIComponent(revision)
  }`;
}

/**
 * Builds the manifest of `snap` from the container `lease` holds.
 *
 * @example
 * ```ts
 * const m = buildManifest(snapshot, lease);
 * m.layers[0].key; // "model.embed_tokens"
 * ```
 */
export function buildManifest(snap: RevisionSnapshot, lease: ContainerLease): Manifest {
  const { ref } = snap;
  const index = lease.container.index;
  const tensors = index.tensors.map((t) => {
    const l = losslessOf(t);
    return {
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      layer: t.layer,
      offsets: t.offsets,
      rawBytes: t.offsets[1] - t.offsets[0],
      storedBytes: l.chunks.reduce((n, ch) => n + ch[1], 0),
      sha256: t.sha256,
      tile: l.tile,
      chunks: l.chunks.length,
    };
  });
  const byLayer = new Map<string, typeof tensors>();
  for (const t of tensors) {
    const list = byLayer.get(t.layer);
    if (list) list.push(t);
    else byLayer.set(t.layer, [t]);
  }
  return {
    id: `${ref.org}/${ref.name}`,
    revision: ref.revision,
    commit: snap.commit,
    sha256: index.source.sha256,
    size: index.source.size,
    containerSize: snap.containerSize,
    containerSha256: snap.containerSha256,
    mode: index.mode,
    metadata: index.metadata,
    layers: index.layers.map((key) => {
      const list = byLayer.get(key) ?? [];
      return {
        key,
        tensors: list.map((t) => t.name),
        rawBytes: list.reduce((n, t) => n + t.rawBytes, 0),
      };
    }),
    tensors: tensors as Manifest["tensors"],
    container: {
      url: containerPath(ref.org, ref.name, ref.revision),
      headLength: 64,
      etag: `"${snap.containerSha256}"`,
    },
    files: snap.sidecars.map((s) => ({ name: s.name, size: s.size, sha256: s.sha256 })),
  };
}
