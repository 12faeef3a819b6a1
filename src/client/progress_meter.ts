/**
 * Progress of a model load: counters, rate and ETA. Browser-safe.
 * @module
 */

/** One progress report. */
export interface LoadProgress {
  /** Raw tensor bytes received and verified so far (decoded size, whatever the transport). */
  readonly bytesDone: number;
  /** Raw bytes of all tensors. */
  readonly bytesTotal: number;
  /** Bytes received over the network, compressed or not. */
  readonly bytesReceived: number;
  /** Tensors verified so far. */
  readonly tensorsDone: number;
  /** Tensors in the model. */
  readonly tensorsTotal: number;
  /** Key of the layer being loaded: that of the next tensor to be yielded. */
  readonly layer: string;
  /** Raw megabytes (10^6 bytes) per second since the load started. */
  readonly mbPerSec: number;
  /** Seconds left at the current rate; `Infinity` until a byte has arrived. */
  readonly etaSeconds: number;
  /** The transport in use. */
  readonly transport: "decoded" | "compressed";
}

/** Mutable counters behind the reports. */
export interface ProgressMeter {
  /** Adds `raw` bytes done and `wire` bytes received. */
  add(raw: number, wire: number): void;
  /** Counts a verified tensor. */
  tensor(): void;
  /** Sets the current layer. */
  layer(key: string): void;
  /** The current report. */
  snapshot(): LoadProgress;
}

/**
 * Creates a meter that calls `onProgress` after every change.
 *
 * @example
 * ```ts
 * import { progressMeter } from "./progress_meter.ts";
 * const m = progressMeter({ bytesTotal: 100, tensorsTotal: 2, transport: "decoded" });
 * m.add(50, 50);
 * console.assert(m.snapshot().bytesDone === 50);
 * ```
 */
export function progressMeter(
  totals: { bytesTotal: number; tensorsTotal: number; transport: LoadProgress["transport"] },
  onProgress?: (p: LoadProgress) => void,
  now: () => number = () => performance.now(),
): ProgressMeter {
  const start = now();
  let bytesDone = 0, bytesReceived = 0, tensorsDone = 0, layer = "";
  const snapshot = (): LoadProgress => {
    const seconds = (now() - start) / 1000;
    const rate = seconds > 0 ? bytesDone / seconds : 0;
    return {
      ...totals,
      bytesDone,
      bytesReceived,
      tensorsDone,
      layer,
      mbPerSec: rate / 1e6,
      etaSeconds: bytesDone >= totals.bytesTotal
        ? 0
        : rate > 0
        ? (totals.bytesTotal - bytesDone) / rate
        : Infinity,
    };
  };
  const report = () => onProgress?.(snapshot());
  return {
    add(raw, wire) {
      bytesDone += raw;
      bytesReceived += wire;
      report();
    },
    tensor() {
      tensorsDone++;
      report();
    },
    layer(key) {
      layer = key;
    },
    snapshot,
  };
}
