/**
 * The matrix a variant sees (docs/FORMAT.md, "Variants: view"): the tensor's elements in row-major
 * order, split after some leading dimensions. Browser-safe.
 * @module
 */

/** `[rows, cols]` where rows is the product of `shape[0..k)` and cols that of `shape[k..)`. */
export type View = readonly [number, number];

/** Every view a tensor of `shape` may take, from k = 0 (one row) to k = rank. */
export function viewSplits(shape: readonly number[]): View[] {
  const out: View[] = [];
  for (let k = 0; k <= shape.length; k++) {
    let rows = 1, cols = 1;
    for (let i = 0; i < shape.length; i++) {
      if (i < k) rows *= shape[i];
      else cols *= shape[i];
    }
    out.push([rows, cols]);
  }
  return out;
}

/** Whether `view` is one of {@link viewSplits} of `shape`. */
export function isViewOf(view: readonly number[], shape: readonly number[]): boolean {
  return viewSplits(shape).some(([r, c]) => r === view[0] && c === view[1]);
}

/**
 * The view a writer picks: the split whose smaller side is largest, ties to the later split
 * (closest to the tensor's own matrix view, rows × last dimension). Per-row scales then follow
 * the output channel of ONNX convolutions (`[out, in, kh, kw]` becomes `out × in·kh·kw` instead
 * of `out·in·kh × kw`), and Linear weights and TF kernels keep their own matrix view.
 *
 * @example
 * ```ts
 * chooseView([480, 480, 1, 1]); // [480, 480]
 * chooseView([3, 3, 64, 128]); // [576, 128]
 * chooseView([64]); // [1, 64]
 * ```
 */
export function chooseView(shape: readonly number[]): View {
  // The split after every dimension (k = rank) leaves one column, useless to every layout.
  let best: View = [1, 1], score = -1;
  const splits = viewSplits(shape);
  for (let k = 0; k < Math.max(1, shape.length); k++) {
    const [r, c] = splits[k];
    const s = Math.min(r, c);
    if (s >= score) best = splits[k], score = s;
  }
  return best;
}
