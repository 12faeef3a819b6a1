/**
 * Layer keys: which layer a tensor belongs to, and the order layers load in.
 * @module
 */

/** The default rule: the name up to and including the block number, as in `model.layers.12`. */
export const DEFAULT_LAYER_PATTERN =
  /^(.*?(?:^|[./])(?:layers|layer|h|blocks|block|decoder\.layers|encoder\.layers)[./]\d+)(?:[./]|$)/;

/**
 * The layer key of tensor `name`: the first capture group of `pattern` when it matches, else the
 * name without its last dotted component (`model.norm.weight` → `model.norm`).
 */
export function layerKey(name: string, pattern: RegExp = DEFAULT_LAYER_PATTERN): string {
  const m = pattern.exec(name);
  if (m) return m[1] ?? m[0];
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

const EMBEDDING = /(embed|wte|wpe|tok_embeddings|token_embd|word_embeddings|position_embeddings)/i;

/**
 * Orders layer keys for progressive loading: embeddings, then numbered blocks in numeric order,
 * then everything else (final norm, head) in first-appearance order.
 */
export function layerOrder(
  keysInFileOrder: readonly string[],
  pattern: RegExp = DEFAULT_LAYER_PATTERN,
): string[] {
  const unique = [...new Set(keysInFileOrder)];
  const first = new Map(unique.map((k, i) => [k, i]));
  // Blocks of one stack share a prefix; stacks keep the order they first appear in.
  const stackFirst = new Map<string, number>();
  for (const key of unique) {
    const prefix = key.replace(/\d+$/, "");
    if (!stackFirst.has(prefix)) stackFirst.set(prefix, first.get(key)!);
  }
  const rank = (key: string): number[] => {
    if (EMBEDDING.test(key)) return [0, first.get(key)!, 0];
    const m = /(\d+)$/.exec(key);
    if (m && (pattern.test(key) || pattern.test(key + "."))) {
      return [1, stackFirst.get(key.slice(0, m.index))!, Number(m[1])];
    }
    return [2, first.get(key)!, 0];
  };
  return unique.sort((a, b) => {
    const ra = rank(a), rb = rank(b);
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2];
  });
}
