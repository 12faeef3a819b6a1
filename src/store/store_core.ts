/**
 * What the parts of the repo store share: the objects, the reader, the per-repo write mutex, the
 * collection lock and the open containers.
 * @module
 */
import type { ContainerLeases } from "./container_leases.ts";
import type { KeyedMutex } from "./keyed_mutex.ts";
import type { ObjectStore } from "./object_store.ts";
import type { RepoReader } from "./repo_reader.ts";
import type { RwLock } from "./rw_lock.ts";

/** The shared state of one open repo store. */
export interface StoreCore {
  /** Where everything is stored. */
  readonly objects: ObjectStore;
  /** Refs, commits and history. */
  readonly reader: RepoReader;
  /** Writes to one repo (`org/name`) run one after the other. */
  readonly mutex: KeyedMutex;
  /** Publishes hold it shared, garbage collection exclusively. */
  readonly gcLock: RwLock;
  /** Open containers, by container SHA-256. */
  readonly leases: ContainerLeases;
  /** How long an upload waits for its commit before collection may remove it, ms. */
  readonly uploadTtlMs: number;
  /** Unreferenced objects younger than this are kept by collection (other replicas' publishes). */
  readonly gcGraceMs: number;
  /** Writes one log line. */
  readonly log: (line: string) => void;
}
