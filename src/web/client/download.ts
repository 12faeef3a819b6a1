/// <reference lib="dom" />
/**
 * The download panel: loads the model in the page with `loadModel` (compressed transport: the
 * container's chunks fetched by HTTP Range and decoded here with the WebAssembly kernels, every
 * tensor checked against its SHA-256), shows live progress (layers done, MB/s, bytes saved by
 * compression), then puts the original file together in file order, checks the whole file's
 * SHA-256 and saves it. A separate bundle, loaded when the button is pressed.
 * @module
 */
import { wasmBackends } from "../../codec_wasm/backends.ts";
import {
  type Backends,
  loadModel,
  openRemoteContainer,
  portableBackends,
} from "../../client/mod.ts";
import { lengthPrefix, readOriginalHeader } from "../../container/read.ts";
import { formatBytes, formatCount, formatRate } from "../shared/format.ts";
import { byId } from "./dom.ts";
import type { DownloadData } from "./model.ts";

/** What a finished download measured. */
export interface DownloadResult {
  /** The whole file's SHA-256. */
  readonly sha256: string;
  /** Its size. */
  readonly size: number;
  /** Bytes received over the network. */
  readonly received: number;
  /** Milliseconds from the button to the verified file. */
  readonly ms: number;
  /** The backends used. */
  readonly backends: string;
}

async function backendsFor(wasmUrl: string): Promise<Backends> {
  try {
    const res = await fetch(wasmUrl);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return await wasmBackends(await res.arrayBuffer());
  } catch {
    // Without WebAssembly the TypeScript codec decodes the same bytes, slower.
    return portableBackends;
  }
}

/**
 * Runs the download the panel describes, updating its elements; resolves once the file is
 * verified and handed to the browser.
 */
export async function runDownload(d: DownloadData): Promise<DownloadResult> {
  const t0 = performance.now();
  const status = byId("download-status");
  const bar = byId<HTMLProgressElement>("download-bar");
  const layersOut = byId("dl-layers"), rateOut = byId("dl-rate");
  const receivedOut = byId("dl-received"), savedOut = byId("dl-saved");
  status.className = "";
  byId("download-progress").hidden = false;
  bar.max = d.size;
  bar.value = 0;
  const backends = await backendsFor(d.wasm);
  const origin = location.origin;
  status.textContent = "Opening the container…";
  const container = await openRemoteContainer(
    fetch.bind(globalThis),
    new URL(d.containerUrl, origin).href,
    {
      backends,
    },
  );
  const index = container.index;
  const header = await readOriginalHeader(container);
  const prefix = new Uint8Array(8 + header.length);
  prefix.set(lengthPrefix(header.length));
  prefix.set(header, 8);
  const left = new Map<string, number>(index.layers.map((l) => [l, 0]));
  for (const t of index.tensors) left.set(t.layer, left.get(t.layer)! + 1);
  let layersDone = [...left.values()].filter((n) => n === 0).length;
  const layerOf = new Map(index.tensors.map((t) => [t.name, t.layer]));
  layersOut.textContent = `${layersDone} / ${index.layers.length}`;
  const tensors = new Map<string, Uint8Array>();
  let received = 0, done = 0;
  status.textContent = "Loading tensors…";
  for await (
    const t of loadModel(new URL(d.modelUrl, origin), {
      backends,
      transport: "compressed",
      onProgress: (p) => {
        received = p.bytesReceived;
        done = p.bytesDone;
        bar.value = prefix.length + p.bytesDone;
        rateOut.textContent = formatRate(p.mbPerSec * 1e6);
        receivedOut.textContent = formatBytes(p.bytesReceived);
        savedOut.textContent = formatBytes(Math.max(0, p.bytesDone - p.bytesReceived));
      },
    })
  ) {
    tensors.set(t.name, t.bytes);
    const layer = layerOf.get(t.name)!;
    const n = left.get(layer)! - 1;
    left.set(layer, n);
    if (n === 0) layersOut.textContent = `${++layersDone} / ${index.layers.length}`;
  }
  status.textContent = "Checking the whole file's SHA-256…";
  const parts: Uint8Array<ArrayBuffer>[] = [prefix];
  const hasher = backends.sha256();
  hasher.update(prefix);
  for (const t of index.tensors) {
    const bytes = tensors.get(t.name)!;
    hasher.update(bytes);
    parts.push(bytes as Uint8Array<ArrayBuffer>);
  }
  const sha256 = hasher.hex();
  const size = parts.reduce((n, p) => n + p.length, 0);
  if (sha256 !== index.source.sha256 || sha256 !== d.sha256 || size !== d.size) {
    throw new Error(
      `the assembled file hashes to ${sha256} (${size} bytes); expected ${d.sha256} (${d.size})`,
    );
  }
  const ms = performance.now() - t0;
  bar.value = d.size;
  savedOut.textContent = formatBytes(Math.max(0, done - received));
  rateOut.textContent = formatRate((d.size / ms) * 1000);
  const blob = new Blob(parts, { type: "application/octet-stream" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = d.file.split("/").pop()!;
  link.textContent = `Save ${link.download} again`;
  status.replaceChildren(
    `Verified: SHA-256 ${sha256} matches. ${formatBytes(size)} in ${(ms / 1000).toFixed(2)} s ` +
      `(${formatRate((size / ms) * 1000)}), ${formatBytes(received)} received, ` +
      `${formatCount(index.tensors.length)} tensors, ${backends.name}. `,
    link,
  );
  status.className = "badge ok";
  status.dataset.sha256 = sha256;
  status.dataset.ms = ms.toFixed(0);
  status.dataset.received = String(received);
  link.click();
  return { sha256, size, received, ms, backends: backends.name };
}
