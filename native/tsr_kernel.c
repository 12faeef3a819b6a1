/*
 * Native chunk decoding for Tessera's server, CLI and benchmarks, loaded through Deno FFI
 * (src/codec_native/kernel.ts). The TypeScript decoder in codec/ stays the reference and the
 * browser path: this file decodes the common chunk shapes faster and hands every other chunk, and
 * every chunk that fails, back to it, so error messages come from one place.
 *
 * Why native: `fast` containers code the exponent plane with Huffman, whose 4 bit streams a C
 * compiler keeps in registers and whose merge it vectorises (1.11 ns per BF16 element with the
 * XXH32 check, measured on human-fp32.bf16). rANS (`best`) gains less: a lane's step is a chain
 * of about 15 cycles (table load, multiply, add, compare) and a stream has 4 lanes, so it cannot
 * go below about 1.3 ns per symbol however it is written; two chunks interleaved for 8 chains
 * measured slower (register spills). docs/ARCHITECTURE.md has the figures.
 *
 * Every read is bounds-checked against the lengths passed in; hostile input yields a status.
 */
#include <stdint.h>
#include <string.h>
#ifndef __wasm__
#include <stdlib.h>
#endif

#define SCALE_BITS 12
#define SCALE_TOTAL (1u << SCALE_BITS)
#define MASK (SCALE_TOTAL - 1)
#define STATE_LOW (1u << 15)
#define MAX_RICE_K 12

enum { CODEC_RAW = 0, CODEC_CONST = 1, CODEC_RANS = 2, CODEC_ZSTD = 3, CODEC_HUFFMAN = 4, CODEC_ADAPTIVE = 5,
       CODEC_CONTEXT = 6 };

/* Chunk statuses written to the descriptor table; mirrored in src/codec_native/kernel.ts. */
enum { ST_OK = 0, ST_FALLBACK = 1, ST_FAILED = 2 };

/* The interface's version, checked by src/codec_native/kernel.ts before it uses the library: a
 * stale build with another descriptor layout is ignored, never misread. */
#define TSR_ABI 3
uint32_t tsr_abi(void) { return TSR_ABI; }

/* Descriptor words per chunk; mirrored in src/codec_native/kernel.ts. */
enum {
  D_STORED = 0,
  D_STORED_LEN,
  D_DST,
  D_RAW_LEN,
  D_LAYOUT,
  D_XXH32,
  D_STATUS,
  D_ROW_BYTES, /* a column tile's row: copied D_STRIDE apart from D_TARGET after decoding; 0 none */
  D_STRIDE,
  D_TARGET,
  D_WORDS
};

static const uint32_t P1 = 0x9e3779b1u, P2 = 0x85ebca77u, P3 = 0xc2b2ae3du, P4 = 0x27d4eb2fu,
                      P5 = 0x165667b1u;

static inline uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
static inline uint32_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline void wr16(uint8_t *p, uint32_t v) { uint16_t u = (uint16_t)v; memcpy(p, &u, 2); }
static inline void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/*
 * XXH32. Its four lanes are a chain of two multiplies per 16 bytes, and scalar code is bound by
 * the multiplier: 7.3 GB/s here, two buffers interleaved no faster. SSE4.1 vector multiplies run
 * one buffer at 9.0 GB/s, chosen at run time (-DTSR_SCALAR builds without); the scalar loop is
 * the reference. (AVX2 over two
 * chunks at once reached 19 GB/s alone, but holding each decoded chunk back for a partner saved
 * only 0.2 of 12.5 ms over human-fp32.bf16, not worth the bookkeeping.)
 */
static void lanes_init(uint32_t v[4], uint32_t seed) {
  v[0] = seed + P1 + P2, v[1] = seed + P2, v[2] = seed, v[3] = seed - P1;
}

static void lanes_scalar(uint32_t v[4], const uint8_t *p, uint32_t stripes) {
  uint32_t v1 = v[0], v2 = v[1], v3 = v[2], v4 = v[3];
  for (uint32_t i = 0; i < stripes; i++, p += 16) {
    v1 = rotl(v1 + rd32(p) * P2, 13) * P1;
    v2 = rotl(v2 + rd32(p + 4) * P2, 13) * P1;
    v3 = rotl(v3 + rd32(p + 8) * P2, 13) * P1;
    v4 = rotl(v4 + rd32(p + 12) * P2, 13) * P1;
  }
  v[0] = v1, v[1] = v2, v[2] = v3, v[3] = v4;
}

#if !defined(TSR_SCALAR) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define XXH_VECTOR 1
#include <immintrin.h>
typedef uint32_t u32x4 __attribute__((vector_size(16)));

__attribute__((target("sse4.1"))) static void lanes_sse41(uint32_t v[4], const uint8_t *p,
                                                          uint32_t stripes) {
  u32x4 a = {v[0], v[1], v[2], v[3]};
  for (uint32_t i = 0; i < stripes; i++, p += 16) {
    u32x4 x;
    memcpy(&x, p, 16);
    a = a + x * P2;
    a = ((a << 13) | (a >> 19)) * P1;
  }
  v[0] = a[0], v[1] = a[1], v[2] = a[2], v[3] = a[3];
}
#endif

static void lanes_run(uint32_t v[4], const uint8_t *p, uint32_t stripes) {
#ifdef XXH_VECTOR
  if (__builtin_cpu_supports("sse4.1")) {
    lanes_sse41(v, p, stripes);
    return;
  }
#endif
  lanes_scalar(v, p, stripes);
}

/* The end of XXH32: lanes merged (or the seed for short input), then the tail and avalanche. */
static uint32_t xxh32_finish(const uint32_t v[4], const uint8_t *data, uint32_t len,
                             uint32_t seed) {
  uint32_t i = len & ~15u;
  uint32_t h = len >= 16 ? rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)
                         : seed + P5;
  h += len;
  for (; i + 4 <= len; i += 4) h = rotl(h + rd32(data + i) * P3, 17) * P4;
  for (; i < len; i++) h = rotl(h + data[i] * P5, 11) * P1;
  h ^= h >> 15;
  h *= P2;
  h ^= h >> 13;
  h *= P3;
  h ^= h >> 16;
  return h;
}

/* XXH32 of data[0..len) with seed. */
uint32_t tsr_xxh32(const uint8_t *data, uint32_t len, uint32_t seed) {
  uint32_t v[4];
  lanes_init(v, seed);
  lanes_run(v, data, len / 16);
  return xxh32_finish(v, data, len, seed);
}

/* Streams with fewer symbols than this decode through a byte table of slot owners and the
 * cumulative frequencies, filled with one memset per symbol, instead of the full slot table:
 * filling 4,096 entries one by one cost more than decoding a small chunk (715 rANS exponent planes
 * under 64 KiB of human-fp32.bf16: 2.9 ms for 1 MB, 1.95 ms this way). */
#define SMALL_STREAM 2048

/* One rANS stream being decoded, with what its output merges with. */
typedef struct {
  uint32_t slots[SCALE_TOTAL]; /* freq << 20 | (slot - start) << 8 | symbol; full tables only */
  uint16_t cum[257];           /* small streams: where symbol k's slots begin, cum[count] = 4096 */
  uint8_t sym[256];            /* small streams: the k-th symbol present */
  uint8_t owner[SCALE_TOTAL];  /* small streams: the k whose slots hold each slot */
  uint32_t small;
  uint32_t x[4];
  const uint8_t *wb; /* the 16-bit words */
  uint32_t count;    /* words in wb */
  uint32_t q;        /* words used */
  uint32_t i;        /* symbols decoded */
  uint32_t n;        /* symbols in all */
  uint32_t mode;     /* 0 bytes, 2 BF16 merge, 4 F32 merge */
  const uint8_t *m, *b1, *b0;
  uint8_t *dst;
} Stream;

/* Parses a frequency table (docs/FORMAT.md, "Frequency tables"): the `count` symbols present in
 * ascending order and their frequencies. Returns the offset past the table, or 0 on any error. */
static uint32_t parse_table(const uint8_t *src, uint32_t len, uint16_t *freqs, uint8_t *symbols,
                            uint32_t *count_out) {
  if (len < 2) return 0;
  uint32_t mode = src[0] & 0x0f, k = src[0] >> 4, count = (uint32_t)src[1] + 1, pos = 2;
  if (mode > 1 || k > MAX_RICE_K || count < 2) return 0;
  if (mode == 0) {
    if (pos + count > len) return 0;
    for (uint32_t i = 0; i < count; i++) {
      symbols[i] = src[pos + i];
      if (i > 0 && symbols[i] <= symbols[i - 1]) return 0;
    }
    pos += count;
  } else {
    if (pos + 32 > len) return 0;
    uint32_t n = 0;
    for (uint32_t s = 0; s < 256; s++) {
      if (src[pos + (s >> 3)] & (1u << (s & 7))) {
        if (n == count) return 0;
        symbols[n++] = (uint8_t)s;
      }
    }
    if (n != count) return 0;
    pos += 32;
  }
  uint64_t bit = (uint64_t)pos * 8, end = (uint64_t)len * 8;
  uint32_t sum = 0, max_q = SCALE_TOTAL >> k;
  for (uint32_t i = 0; i + 1 < count; i++) {
    uint32_t q = 0;
    for (;;) {
      if (bit >= end) return 0;
      uint32_t b = (src[bit >> 3] >> (bit & 7)) & 1;
      bit++;
      if (!b) break;
      if (++q > max_q) return 0;
    }
    if (bit + k > end) return 0;
    uint32_t r = 0;
    for (uint32_t j = 0; j < k; j++, bit++) r |= ((src[bit >> 3] >> (bit & 7)) & 1u) << j;
    uint32_t f = (q << k) + r + 1;
    sum += f;
    if (sum >= SCALE_TOTAL) return 0;
    freqs[i] = (uint16_t)f;
  }
  freqs[count - 1] = (uint16_t)(SCALE_TOTAL - sum);
  if ((bit & 7) != 0 && (src[bit >> 3] >> (bit & 7)) != 0) return 0;
  *count_out = count;
  return (uint32_t)((bit + 7) >> 3);
}

/* Reads a frequency table into st: the full slot lookup, or for a small stream the cumulative
 * frequencies. Returns the offset past the table, or 0 on any error. */
static uint32_t read_table(const uint8_t *src, uint32_t len, Stream *st) {
  uint16_t freqs[256];
  uint8_t symbols[256];
  uint32_t count = 0, end = parse_table(src, len, freqs, symbols, &count);
  if (!end) return 0;
  if (st->small) {
    /* Symbols were listed in ascending order, so slots follow the same order as a full table. */
    for (uint32_t i = 0, begin = 0; i < count; i++) {
      st->cum[i] = (uint16_t)begin, st->sym[i] = symbols[i];
      begin += freqs[i];
    }
    st->cum[count] = SCALE_TOTAL;
    for (uint32_t i = 0; i < count; i++) memset(st->owner + st->cum[i], (int)i, freqs[i]);
  } else {
    for (uint32_t i = 0, begin = 0; i < count; i++) {
      uint32_t f = freqs[i], s = symbols[i];
      for (uint32_t j = 0; j < f; j++) st->slots[begin + j] = (f << 20) | (j << 8) | s;
      begin += f;
    }
  }
  return end;
}

/* Sets up `st` to decode `n` symbols from a rANS payload (table, states, words); returns 0 when it
 * is malformed. */
static int open_stream(Stream *st, const uint8_t *src, uint32_t len, uint32_t n) {
  st->small = n < SMALL_STREAM;
  uint32_t p = read_table(src, len, st);
  if (p == 0 || p + 16 > len || ((len - p - 16) & 1)) return 0;
  for (int k = 0; k < 4; k++) {
    st->x[k] = rd32(src + p + 4 * k);
    if (st->x[k] < STATE_LOW || st->x[k] >= 0x80000000u) return 0;
  }
  st->wb = src + p + 16;
  st->count = (len - p - 16) >> 1;
  st->q = 0;
  st->i = 0;
  st->n = n;
  return 1;
}

/* The slot entry of a small stream, as a full table would hold it. */
static inline uint32_t small_entry(const Stream *st, uint32_t slot) {
  uint32_t k = st->owner[slot];
  return ((uint32_t)(st->cum[k + 1] - st->cum[k]) << 20) | ((slot - st->cum[k]) << 8) | st->sym[k];
}

/* Writes symbol s of element i to dst, merged as `mode` says: 0 the byte alone; 2 a sign-moved
 * BF16 exponent with plane m; 4 a sign-moved F32 exponent with planes m, b1, b0. */
static inline void put(uint32_t mode, const uint8_t *m, const uint8_t *b1, const uint8_t *b0,
                       uint8_t *dst, uint32_t i, uint32_t s) {
  if (mode == 2) {
    uint32_t a = m[i];
    wr16(dst + 2 * (size_t)i, ((a & 0x80) << 8) | (s << 7) | (a & 0x7f));
  } else if (mode == 4) {
    uint32_t a = m[i];
    wr32(dst + 4 * (size_t)i, ((a & 0x80) << 24) | (s << 23) | ((a & 0x7f) << 16) |
                                  ((uint32_t)b1[i] << 8) | b0[i]);
  } else {
    dst[i] = (uint8_t)s;
  }
}

/* The reference step: one symbol, word reads checked (a corrupt stream reads zeros past its end,
 * as the TypeScript decoder does, and the word count then fails the final check). */
static void decode_rest(Stream *st) {
  for (uint32_t i = st->i; i < st->n; i++) {
    uint32_t *x = &st->x[i & 3];
    uint32_t e = st->small ? small_entry(st, *x & MASK) : st->slots[*x & MASK];
    *x = (e >> 20) * (*x >> SCALE_BITS) + ((e >> 8) & MASK);
    if (*x < STATE_LOW) {
      *x = (*x << 16) | (st->q < st->count ? rd16(st->wb + 2 * (size_t)st->q) : 0);
      st->q++;
    }
    put(st->mode, st->m, st->b1, st->b0, st->dst, i, e & 0xff);
  }
  st->i = st->n;
}

static int stream_ok(const Stream *st) {
  return st->q == st->count && st->x[0] == STATE_LOW && st->x[1] == STATE_LOW &&
         st->x[2] == STATE_LOW && st->x[3] == STATE_LOW;
}

/*
 * One step of the four lanes of a stream, without branches: a renormalisation is taken about one
 * time in six, at random, so a branch would mispredict often. The words the lanes may take are
 * loaded before any lane's decision is known, so no lane waits on another's load: lane k takes
 * word q + (how many of lanes 0..k-1 renormalised). Callers guarantee 4 words remain.
 */
#define STEP4(LOOK, x0, x1, x2, x3, wb, q, s0, s1, s2, s3)                                    \
  do {                                                                                      \
    uint32_t e0 = LOOK(x0 & MASK), e1 = LOOK(x1 & MASK), e2 = LOOK(x2 & MASK),               \
             e3 = LOOK(x3 & MASK);                                                          \
    s0 = e0 & 0xff, s1 = e1 & 0xff, s2 = e2 & 0xff, s3 = e3 & 0xff;                         \
    x0 = (e0 >> 20) * (x0 >> SCALE_BITS) + ((e0 >> 8) & MASK);                              \
    x1 = (e1 >> 20) * (x1 >> SCALE_BITS) + ((e1 >> 8) & MASK);                              \
    x2 = (e2 >> 20) * (x2 >> SCALE_BITS) + ((e2 >> 8) & MASK);                              \
    x3 = (e3 >> 20) * (x3 >> SCALE_BITS) + ((e3 >> 8) & MASK);                              \
    const uint8_t *wq_ = (wb) + 2 * (size_t)(q);                                            \
    uint32_t w0 = rd16(wq_), w1 = rd16(wq_ + 2), w2 = rd16(wq_ + 4), w3 = rd16(wq_ + 6);     \
    uint32_t n0 = x0 < STATE_LOW, n1 = x1 < STATE_LOW, n2 = x2 < STATE_LOW,                 \
             n3 = x3 < STATE_LOW;                                                           \
    uint32_t k2 = n0 + n1, k3 = k2 + n2;                                                    \
    uint32_t v1 = n0 ? w1 : w0, v2 = k2 == 0 ? w0 : k2 == 1 ? w1 : w2,                      \
             v3 = k3 == 0 ? w0 : k3 == 1 ? w1 : k3 == 2 ? w2 : w3;                          \
    x0 = n0 ? (x0 << 16) | w0 : x0;                                                         \
    x1 = n1 ? (x1 << 16) | v1 : x1;                                                         \
    x2 = n2 ? (x2 << 16) | v2 : x2;                                                         \
    x3 = n3 ? (x3 << 16) | v3 : x3;                                                         \
    q += k3 + n3;                                                                           \
  } while (0)

#define MERGE2(dst, m, i, s) \
  wr16((dst) + 2 * (size_t)(i), (((m)[i] & 0x80u) << 8) | ((s) << 7) | ((m)[i] & 0x7fu))
#define MERGE4(dst, m, b1, b0, i, s)                                                      \
  wr32((dst) + 4 * (size_t)(i), (((m)[i] & 0x80u) << 24) | ((s) << 23) |                 \
                                    (((m)[i] & 0x7fu) << 16) | ((uint32_t)(b1)[i] << 8) | \
                                    (b0)[i])

/* Groups of 4 symbols while 4 words remain, with the stream's state in locals; WRITE stores
 * symbols s0-s3 of elements i..i+3. One copy per mode, so the merge costs no branch. */
#define RANS_LOOP(LOOK, WRITE)                                                   \
  do {                                                                           \
    const uint8_t *wb = st->wb;                                                  \
    uint32_t x0 = st->x[0], x1 = st->x[1], x2 = st->x[2], x3 = st->x[3];         \
    uint32_t q = st->q, i = st->i, s0, s1, s2, s3;                               \
    const uint32_t n4 = st->n & ~3u, count = st->count;                          \
    for (; i < n4 && q + 4 <= count; i += 4) {                                   \
      STEP4(LOOK, x0, x1, x2, x3, wb, q, s0, s1, s2, s3);                        \
      WRITE;                                                                     \
    }                                                                            \
    st->x[0] = x0, st->x[1] = x1, st->x[2] = x2, st->x[3] = x3, st->q = q, st->i = i; \
  } while (0)

#define FULL_LOOK(slot) sl[slot]
#define SMALL_LOOK(slot) small_entry(st, slot)

/* Decodes `st` to its end with lookup LOOK, merging as its mode says (0, 2 or 4, as put()). */
#define DECODE_MODES(LOOK)                                                                    \
  do {                                                                                      \
    if (st->mode == 2) {                                                                    \
      RANS_LOOP(LOOK, (MERGE2(d, m, i, s0), MERGE2(d, m, i + 1, s1), MERGE2(d, m, i + 2, s2), \
                       MERGE2(d, m, i + 3, s3)));                                           \
    } else if (st->mode == 4) {                                                             \
      RANS_LOOP(LOOK, (MERGE4(d, m, h, l, i, s0), MERGE4(d, m, h, l, i + 1, s1),             \
                       MERGE4(d, m, h, l, i + 2, s2), MERGE4(d, m, h, l, i + 3, s3)));       \
    } else {                                                                                \
      RANS_LOOP(LOOK, (d[i] = (uint8_t)s0, d[i + 1] = (uint8_t)s1, d[i + 2] = (uint8_t)s2,    \
                       d[i + 3] = (uint8_t)s3));                                            \
    }                                                                                       \
  } while (0)

/* Decodes `st` to its end, merging as its mode says (0, 2 or 4, as put()). */
static void decode_stream(Stream *st) {
  uint8_t *d = st->dst;
  const uint8_t *m = st->m, *h = st->b1, *l = st->b0;
  const uint32_t *sl = st->slots;
  if (st->small) DECODE_MODES(SMALL_LOOK);
  else DECODE_MODES(FULL_LOOK);
  decode_rest(st);
}

/* ---------------------------------------------------------------------------------------------
 * Huffman planes (docs/FORMAT.md, "Huffman"): 4 bit streams, symbol i in stream i mod 4, codes
 * read least significant bit first through a 2^11-entry table of symbol | length << 8.
 */
#define HUF_BITS 11
#define HUF_MASK ((1u << HUF_BITS) - 1)

static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Builds the table from the payload's code lengths; returns the offset of the stream sizes, or 0. */
static uint32_t huf_table(const uint8_t *src, uint32_t len, uint16_t *table) {
  if (len < 1) return 0;
  uint32_t max_symbol = src[0], pos = 1 + (max_symbol >> 1) + 1;
  if (pos > len) return 0;
  uint8_t lengths[256];
  uint32_t per_length[HUF_BITS + 2] = {0}, kraft = 0, symbols = 0;
  for (uint32_t s = 0; s <= max_symbol; s++) {
    uint32_t l = (src[1 + (s >> 1)] >> ((s & 1) * 4)) & 0x0f;
    if (l > HUF_BITS) return 0;
    lengths[s] = (uint8_t)l;
    if (l) per_length[l]++, kraft += 1u << (HUF_BITS - l), symbols++;
  }
  if ((max_symbol & 1) == 0 && (src[1 + (max_symbol >> 1)] >> 4) != 0) return 0;
  if (lengths[max_symbol] == 0 || symbols < 2 || kraft != (1u << HUF_BITS)) return 0;
  uint32_t next[HUF_BITS + 2];
  for (uint32_t l = 1, code = 0; l <= HUF_BITS; l++) {
    code = (code + per_length[l - 1]) << 1;
    next[l] = code;
  }
  for (uint32_t s = 0; s <= max_symbol; s++) {
    uint32_t l = lengths[s];
    if (!l) continue;
    uint32_t c = next[l]++, r = 0;
    for (uint32_t b = 0; b < l; b++, c >>= 1) r = (r << 1) | (c & 1);
    for (; r <= HUF_MASK; r += 1u << l) table[r] = (uint16_t)(s | (l << 8));
  }
  return pos;
}

/*
 * The pair table: for each 11 bits, the first code's symbol and, when the next code also fits in
 * those bits, the second's: s1 | s2 << 8 | bits used << 16 | output advance << 24, the advance
 * being 4 or 8 bytes because a stream's symbols lie 4 apart in the plane. Exponent codes average
 * 2.6-3.5 bits, so most lookups yield two symbols.
 */
static void huf_pairs(const uint16_t *table, uint32_t *pairs) {
  for (uint32_t x = 0; x <= HUF_MASK; x++) {
    uint32_t e1 = table[x], l1 = e1 >> 8, e2 = table[x >> l1], l2 = e2 >> 8;
    pairs[x] = l1 + l2 <= HUF_BITS
                   ? (e1 & 0xff) | (e2 & 0xff) << 8 | (l1 + l2) << 16 | 8u << 24
                   : (e1 & 0xff) | l1 << 16 | 4u << 24;
  }
}

/* One lookup in stream k: one or two symbols, both bytes written, the pointer moved past those
 * taken (a second byte not taken is overwritten by the stream's next symbol). */
#define HUF_PAIR(acc, nb, o, e)                                                               \
  (e = pairs[acc & HUF_MASK], acc >>= (e >> 16) & 0xff, nb -= (e >> 16) & 0xff,              \
   o[0] = (uint8_t)e, o[4] = (uint8_t)(e >> 8), o += e >> 24)
#define HUF_REFILL(acc, nb, p) (acc |= rd64(p) << nb, p += (63 - nb) >> 3, nb |= 56)

/*
 * Decodes a Huffman payload of n symbols into dst. Returns 1 when the payload is well formed and
 * every stream is used exactly, with zero padding.
 *
 * The fast loop: while every stream has 8 readable bytes and 10 symbols to go, refill each 64-bit
 * accumulator once (56 bits or more) and make 5 pair lookups (55 bits at most) in each, 20 to 40
 * outputs. The streams' state lives in scalars so the compiler keeps it in registers. Merging
 * happens afterwards, in merge_exponents: this loop is limited by its instruction count, and the
 * separate merge vectorises (1.53 against 1.11 ns per BF16 element, measured).
 */
static int huf_decode(const uint8_t *src, uint32_t len, uint32_t n, uint8_t *dst) {
  uint16_t table[1u << HUF_BITS];
  uint32_t pairs[1u << HUF_BITS];
  uint32_t pos = huf_table(src, len, table);
  if (!pos || pos + 12 > len) return 0;
  const uint8_t *start[4], *end[4];
  uint64_t at = pos + 12;
  for (int k = 0; k < 4; k++) {
    start[k] = src + at;
    at = k < 3 ? at + rd32(src + pos + 4 * k) : len;
    if (at > len) return 0;
    end[k] = src + at;
  }
  uint64_t acc[4] = {0, 0, 0, 0};
  uint32_t bits[4] = {0, 0, 0, 0};
  const uint8_t *p[4] = {start[0], start[1], start[2], start[3]};
  uint8_t *o[4] = {dst, dst + 1, dst + 2, dst + 3};
  if (n >= 64) {
    huf_pairs(table, pairs);
    /* Stream k holds symbols k, k + 4, ...: (n - k + 3) / 4 of them (in 64 bits: n + 3 wraps in
     * 32 for a hostile 4 GiB chunk); the loop runs while each has 10 or more left. */
    const uint64_t c0 = ((uint64_t)n + 3) / 4, c1 = ((uint64_t)n + 2) / 4,
                   c2 = ((uint64_t)n + 1) / 4, c3 = (uint64_t)n / 4;
    uint8_t *const L0 = dst + 4 * (c0 - 10), *const L1 = dst + 1 + 4 * (c1 - 10),
                   *const L2 = dst + 2 + 4 * (c2 - 10), *const L3 = dst + 3 + 4 * (c3 - 10);
    uint64_t A0 = 0, A1 = 0, A2 = 0, A3 = 0;
    uint32_t N0 = 0, N1 = 0, N2 = 0, N3 = 0;
    const uint8_t *P0 = p[0], *P1 = p[1], *P2 = p[2], *P3 = p[3];
    uint8_t *O0 = o[0], *O1 = o[1], *O2 = o[2], *O3 = o[3];
    while (O0 <= L0 && O1 <= L1 && O2 <= L2 && O3 <= L3 && P0 + 8 <= end[0] &&
           P1 + 8 <= end[1] && P2 + 8 <= end[2] && P3 + 8 <= end[3]) {
      HUF_REFILL(A0, N0, P0), HUF_REFILL(A1, N1, P1), HUF_REFILL(A2, N2, P2),
          HUF_REFILL(A3, N3, P3);
      for (int r = 0; r < 5; r++) {
        uint32_t e0, e1, e2, e3;
        HUF_PAIR(A0, N0, O0, e0), HUF_PAIR(A1, N1, O1, e1), HUF_PAIR(A2, N2, O2, e2),
            HUF_PAIR(A3, N3, O3, e3);
      }
    }
    acc[0] = A0, acc[1] = A1, acc[2] = A2, acc[3] = A3;
    bits[0] = N0, bits[1] = N1, bits[2] = N2, bits[3] = N3;
    p[0] = P0, p[1] = P1, p[2] = P2, p[3] = P3;
    o[0] = O0, o[1] = O1, o[2] = O2, o[3] = O3;
  }
  /* The rest one symbol at a time; past a stream's end it reads zero bytes, which the length
   * check below then rejects. */
  for (int k = 0; k < 4; k++) {
    for (uint8_t *const last = dst + n; o[k] < last; o[k] += 4) {
      while (bits[k] <= 56) {
        acc[k] |= (uint64_t)(p[k] < end[k] ? *p[k] : 0) << bits[k];
        p[k]++, bits[k] += 8;
      }
      uint32_t e = table[acc[k] & HUF_MASK];
      acc[k] >>= e >> 8, bits[k] -= e >> 8;
      *o[k] = (uint8_t)e;
    }
  }
  for (int k = 0; k < 4; k++) {
    uint64_t used = (uint64_t)(p[k] - start[k]) * 8 - bits[k];
    if ((used + 7) / 8 != (uint64_t)(end[k] - start[k])) return 0;
    if ((used & 7) && (end[k][-1] >> (used & 7)) != 0) return 0;
  }
  return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Adaptive planes (docs/FORMAT.md, "Adaptive planes"; codec/adaptive/decode.ts is the reference):
 * nibble symbols coded with rANS (15-bit probabilities, states in [2^23, 2^31), byte
 * renormalisation) under cumulative tables that move towards every symbol they code. A plane is
 * cut into up to four segments ("lanes"), each with its own state, tables, history and byte
 * stream, so that their dependency chains run side by side.
 *
 * Measured on this machine (4 lanes, one table row per symbol): a symbol costs 3.3-5 ns with AVX2
 * against 0.85 ns for a static rANS symbol. What it costs, and what the encoder may spend on it, is
 * in docs/ARCHITECTURE.md. Three things made it 3-6x faster than the first version: a stream per
 * lane (one shared stream made every lane wait for the previous lane's renormalisation), VEX
 * encoding (legacy SSE was 2.4x slower here), and taking the symbol's bounds from the compared
 * vector instead of loading them back from the row just stored (a failed store-to-load forward
 * cost about 5 ns per symbol).
 */
#define AD_PROB_BITS 15
#define AD_TOTAL (1u << AD_PROB_BITS)
#define AD_LOW (1u << 23)
#define AD_TABLES 34
#define AD_MAX_COLUMNS 65536u
#define AD_MAX_LANES 4
enum { AD_BYTE = 0, AD_RANK = 1, AD_MANTISSA = 2, AD_NIBBLES = 3 };
enum { AD_NONE = 0, AD_COLUMN = 1, AD_PREVIOUS = 2 };

/* The tables of one lane: boundaries 1..15 of each cumulative table, then a zero pad, so that a
 * row is one 32-byte vector; and how often each was updated (saturating at 64). */
typedef struct {
  _Alignas(32) uint16_t c[AD_TABLES][16];
  uint8_t u[AD_TABLES];
} AdTables;

/* One lane: state, stream, segment, column position and history. */
typedef struct {
  uint32_t x;
  const uint8_t *p, *end;
  uint32_t begin, stop; /* elements [begin, stop) */
  uint32_t col, sub;    /* the next element's column and, for nibbles, its byte within it */
  uint32_t previous;
  uint16_t *columns; /* per column: running average × 16, 0xffff before the first symbol */
  uint32_t bad;      /* the stream ran out */
  AdTables *t;
} AdLane;

/* The portable step: bounds-checked, branchy; also the reference for the vector step. */
static inline uint32_t ad_symbol_scalar(AdLane *l, uint32_t t) {
  uint16_t *c = l->t->c[t];
  uint32_t v = l->x, slot = v & (AD_TOTAL - 1), s = 0;
  while (s < 15 && c[s] <= slot) s++;
  uint32_t lo = s ? c[s - 1] : 0, hi = s < 15 ? c[s] : AD_TOTAL;
  v = (hi - lo) * (v >> AD_PROB_BITS) + slot - lo;
  while (v < AD_LOW) {
    if (l->p >= l->end) {
      l->bad = 1;
      v = AD_LOW;
      break;
    }
    v = (v << 8) | *l->p++;
  }
  l->x = v;
  uint32_t u = l->t->u[t], rate = 4 + (u >> 4);
  l->t->u[t] = (uint8_t)(u + (u < 64));
  for (uint32_t j = 0; j < s; j++) c[j] = (uint16_t)(c[j] + (((int32_t)j + 1 - (int32_t)c[j]) >> rate));
  for (uint32_t j = s; j < 15; j++) {
    c[j] = (uint16_t)(c[j] + (((int32_t)(AD_TOTAL - 15 + j) - (int32_t)c[j]) >> rate));
  }
  return s;
}

/* A uniform nibble (the mantissa model's low nibble): no table. */
static inline uint32_t ad_uniform(AdLane *l) {
  uint32_t v = l->x, slot = v & (AD_TOTAL - 1), s = slot >> (AD_PROB_BITS - 4);
  v = (AD_TOTAL / 16) * (v >> AD_PROB_BITS) + slot - s * (AD_TOTAL / 16);
  while (v < AD_LOW) {
    if (l->p >= l->end) {
      l->bad = 1;
      v = AD_LOW;
      break;
    }
    v = (v << 8) | *l->p++;
  }
  l->x = v;
  return s;
}

#ifdef XXH_VECTOR
#define AD_VECTOR 1
#define AD_AVX2 __attribute__((target("avx2,popcnt")))
/* The vector step, for a lane with two or more stream bytes left: the symbol is the count of
 * boundaries at or below the slot, its bounds the largest such boundary and the smallest above it
 * (both from the compared vector), renormalisation reads up to two bytes without branches, and the
 * update moves all fifteen boundaries at once. */
AD_AVX2 static inline uint32_t ad_symbol_avx2(AdLane *l, uint32_t t) {
  __m256i *row = (__m256i *)l->t->c[t];
  uint32_t x = l->x, slot = x & (AD_TOTAL - 1);
  __m256i v = _mm256_load_si256(row);
  __m256i gt = _mm256_cmpgt_epi16(v, _mm256_set1_epi16((short)slot));
  uint32_t s = 15 - (uint32_t)(__builtin_popcount((uint32_t)_mm256_movemask_epi8(gt)) >> 1);
  const __m256i ones = _mm256_set1_epi16(-1);
  __m256i lv = _mm256_andnot_si256(gt, v), hv = _mm256_or_si256(_mm256_andnot_si256(gt, ones), v);
  __m128i l8 = _mm_max_epu16(_mm256_castsi256_si128(lv), _mm256_extracti128_si256(lv, 1));
  __m128i h8 = _mm_min_epu16(_mm256_castsi256_si128(hv), _mm256_extracti128_si256(hv, 1));
  uint32_t lo =
      (0xffffu ^ (uint32_t)_mm_cvtsi128_si32(_mm_minpos_epu16(_mm_xor_si128(l8, _mm256_castsi256_si128(ones))))) &
      0xffff;
  uint32_t hi = (uint32_t)_mm_cvtsi128_si32(_mm_minpos_epu16(h8)) & 0xffff;
  hi = hi > AD_TOTAL ? AD_TOTAL : hi;
  x = (hi - lo) * (x >> AD_PROB_BITS) + slot - lo;
  const uint8_t *p = l->p;
  uint32_t n1 = x < AD_LOW;
  x = n1 ? (x << 8) | p[0] : x;
  uint32_t n2 = x < AD_LOW;
  x = n2 ? (x << 8) | p[n1] : x;
  l->p = p + n1 + n2;
  l->x = x;
  uint32_t u = l->t->u[t], rate = 4 + (u >> 4);
  l->t->u[t] = (uint8_t)(u + (u < 64));
  const __m256i idx = _mm256_setr_epi16(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0);
  const __m256i keep = _mm256_setr_epi16(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0);
  __m256i above = _mm256_and_si256(_mm256_cmpgt_epi16(idx, _mm256_set1_epi16((short)s)), keep);
  __m256i target = _mm256_add_epi16(idx, _mm256_and_si256(above, _mm256_set1_epi16((short)(AD_TOTAL - 16))));
  v = _mm256_add_epi16(v, _mm256_sra_epi16(_mm256_sub_epi16(target, v), _mm_cvtsi32_si128((int)rate)));
  _mm256_store_si256(row, v);
  return s;
}
#endif

static inline uint32_t ad_class(const AdLane *l, uint32_t mode) {
  if (mode == AD_COLUMN) {
    uint32_t a = l->columns[l->col];
    return a == 0xffff ? 16 : ((a + 8) >> 4) > 15 ? 15 : (a + 8) >> 4;
  }
  return mode == AD_PREVIOUS ? l->previous : 0;
}

static inline void ad_remember(AdLane *l, uint32_t mode, uint32_t s) {
  if (mode == AD_COLUMN) {
    int32_t a = l->columns[l->col];
    l->columns[l->col] = (uint16_t)(a == 0xffff ? (int32_t)(s << 4) : a + (((int32_t)(s << 4) - a) >> 3));
  } else {
    l->previous = s;
  }
}

static uint8_t ad_forward(uint32_t transform, uint32_t b) {
  switch (transform) {
  case 1: return (uint8_t)(((b & 0x78) << 1) | ((b & 0x80) >> 4) | (b & 0x07));
  case 2: return (uint8_t)(((b & 0x7c) << 1) | ((b & 0x80) >> 5) | (b & 0x03));
  case 3: return (uint8_t)((b << 1) ^ (b & 0x80 ? 0xff : 0));
  default: return (uint8_t)b;
  }
}

/* What the payload header says, checked. */
typedef struct {
  uint32_t model, mode, variant, lanes, cols, eb, count;
  uint8_t values[16], class_of[256], inverse[256];
} AdHeader;

/* The element loop of every model, for one kind of step (SYM(lane, table)). Lanes take turns
 * element by element, as the format orders symbols; each lane's chain is its own. */
#define AD_LOOP(SYM)                                                                             \
  do {                                                                                         \
    for (uint32_t t = from; t < longest; t++) {                                                \
      for (uint32_t k = 0; k < h->lanes; k++) {                                                \
        AdLane *l = &ln[k];                                                                    \
        uint32_t j = l->begin + t;                                                             \
        if (j >= l->stop) continue;                                                            \
        if (h->model == AD_BYTE) {                                                             \
          uint32_t hi = SYM(l, ad_class(l, h->mode));                                          \
          uint32_t lo = SYM(l, 17 + hi);                                                       \
          ad_remember(l, h->mode, hi);                                                         \
          l->col = l->col + 1 == h->cols ? 0 : l->col + 1;                                     \
          out[j] = h->inverse[(hi << 4) | lo];                                                 \
        } else if (h->model == AD_RANK) {                                                      \
          uint32_t r = SYM(l, ad_class(l, h->mode));                                           \
          if (r == 15) {                                                                       \
            uint32_t hi = SYM(l, 17);                                                          \
            out[j] = (uint8_t)((hi << 4) | SYM(l, 18 + hi));                                   \
          } else if (r >= h->count) {                                                          \
            return 0;                                                                          \
          } else {                                                                             \
            out[j] = h->values[r];                                                             \
          }                                                                                    \
          ad_remember(l, h->mode, r);                                                          \
          l->col = l->col + 1 == h->cols ? 0 : l->col + 1;                                     \
        } else if (h->model == AD_MANTISSA) {                                                  \
          uint32_t hi = SYM(l, h->class_of[above[j]]);                                         \
          uint32_t lo = h->variant ? SYM(l, 16 + hi) : ad_uniform(l);                          \
          out[j] = (uint8_t)((hi << 4) | lo);                                                  \
        } else {                                                                               \
          uint32_t a = SYM(l, ad_class(l, h->mode));                                           \
          ad_remember(l, h->mode, a);                                                          \
          uint32_t b = SYM(l, ad_class(l, h->mode));                                           \
          ad_remember(l, h->mode, b);                                                          \
          if (++l->sub == h->eb) l->sub = 0, l->col = l->col + 1 == h->cols ? 0 : l->col + 1;  \
          out[j] = (uint8_t)(a | (b << 4));                                                    \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
  } while (0)

#define AD_SCALAR_SYM(l, t) ad_symbol_scalar((l), (t))
static int ad_loop_scalar(const AdHeader *h, AdLane *ln, uint32_t from, uint32_t longest,
                          const uint8_t *above, uint8_t *restrict out) {
  AD_LOOP(AD_SCALAR_SYM);
  return 1;
}

#ifdef AD_VECTOR
/* An escape needs up to three symbols, each up to two bytes: the vector step runs while a lane's
 * stream has that many left, the checked one after. */
#define AD_VECTOR_SYM(l, t) ((l)->end - (l)->p >= 6 ? ad_symbol_avx2((l), (t)) : ad_symbol_scalar((l), (t)))
AD_AVX2 static int ad_loop_avx2(const AdHeader *h, AdLane *ln, uint32_t from, uint32_t longest,
                                const uint8_t *above, uint8_t *restrict out) {
  AD_LOOP(AD_VECTOR_SYM);
  return 1;
}

/* One element of lane L in the four-lane loop, the lane's state in locals (a struct copy the
 * compiler keeps in registers): the generic loop, whose lanes lived in memory behind pointers
 * and whose stores to `out` forced every field to be reloaded, ran at 19 ns per symbol on
 * human-fp32.e4m3's largest plane; this one at the figure in the header comment. */
#define AD_ELEMENT4(L)                                                                      \
  do {                                                                                     \
    uint32_t j = L.begin + t;                                                              \
    if (model == AD_BYTE) {                                                                \
      uint32_t hi = ad_symbol_avx2(&L, ad_class(&L, mode));                                \
      uint32_t lo = ad_symbol_avx2(&L, 17 + hi);                                           \
      ad_remember(&L, mode, hi);                                                           \
      L.col = L.col + 1 == cols ? 0 : L.col + 1;                                           \
      out[j] = h->inverse[(hi << 4) | lo];                                                 \
    } else if (model == AD_RANK) {                                                         \
      uint32_t r = ad_symbol_avx2(&L, ad_class(&L, mode));                                 \
      if (r == 15) {                                                                       \
        uint32_t hi = ad_symbol_avx2(&L, 17);                                              \
        out[j] = (uint8_t)((hi << 4) | ad_symbol_avx2(&L, 18 + hi));                       \
      } else if (r >= h->count) {                                                          \
        return 0;                                                                          \
      } else {                                                                             \
        out[j] = h->values[r];                                                             \
      }                                                                                    \
      ad_remember(&L, mode, r);                                                            \
      L.col = L.col + 1 == cols ? 0 : L.col + 1;                                           \
    } else if (model == AD_MANTISSA) {                                                     \
      uint32_t hi = ad_symbol_avx2(&L, h->class_of[above[j]]);                             \
      uint32_t lo = h->variant ? ad_symbol_avx2(&L, 16 + hi) : ad_uniform(&L);             \
      out[j] = (uint8_t)((hi << 4) | lo);                                                  \
    } else {                                                                               \
      uint32_t a = ad_symbol_avx2(&L, ad_class(&L, mode));                                 \
      ad_remember(&L, mode, a);                                                            \
      uint32_t b = ad_symbol_avx2(&L, ad_class(&L, mode));                                 \
      ad_remember(&L, mode, b);                                                            \
      if (++L.sub == eb) L.sub = 0, L.col = L.col + 1 == cols ? 0 : L.col + 1;             \
      out[j] = (uint8_t)(a | (b << 4));                                                    \
    }                                                                                      \
  } while (0)

/* The first elements of four lanes, side by side, while every lane's stream has room for an
 * element (an escape: three symbols of two bytes); returns how many, or -1 on a bad rank. The
 * generic loop finishes from there. */
AD_AVX2 static int64_t ad_four_lanes(const AdHeader *h, AdLane *ln, uint32_t shortest,
                                     const uint8_t *above, uint8_t *restrict out) {
  AdLane l0 = ln[0], l1 = ln[1], l2 = ln[2], l3 = ln[3];
  const uint32_t model = h->model, mode = h->mode, cols = h->cols, eb = h->eb;
  uint32_t t = 0;
  for (; t < shortest; t++) {
    if (l0.end - l0.p < 12 || l1.end - l1.p < 12 || l2.end - l2.p < 12 || l3.end - l3.p < 12) break;
    AD_ELEMENT4(l0);
    AD_ELEMENT4(l1);
    AD_ELEMENT4(l2);
    AD_ELEMENT4(l3);
  }
  ln[0] = l0, ln[1] = l1, ln[2] = l2, ln[3] = l3;
  return t;
}
#endif

/* Reads and checks the header; returns the offset of the lane states, or 0. */
static uint32_t ad_header(const uint8_t *src, uint32_t len, AdHeader *h) {
  if (len < 6) return 0;
  uint32_t flags = src[1], pos = 6;
  h->model = src[0], h->mode = flags & 3, h->variant = (flags >> 2) & 3;
  h->lanes = 1u << ((flags >> 4) & 3), h->cols = rd32(src + 2), h->eb = 1, h->count = 0;
  if (h->model > AD_NIBBLES || h->mode > AD_PREVIOUS || ((flags >> 4) & 3) > 2 || (flags >> 6)) return 0;
  if (h->cols < 1 || (h->mode == AD_COLUMN && h->cols > AD_MAX_COLUMNS)) return 0;
  if (h->model == AD_MANTISSA && (h->mode != AD_NONE || h->variant > 1)) return 0;
  if ((h->model == AD_RANK || h->model == AD_NIBBLES) && h->variant) return 0;
  if (h->model == AD_NIBBLES) {
    if (pos + 1 > len) return 0;
    h->eb = src[pos++];
    if (h->eb < 1 || h->eb > 8) return 0;
  }
  memset(h->class_of, 15, sizeof h->class_of);
  if (h->model == AD_RANK || h->model == AD_MANTISSA) {
    if (pos + 1 > len) return 0;
    h->count = src[pos++];
    if (h->count < 1 || h->count > 15 || pos + h->count > len) return 0;
    uint8_t seen[256] = {0};
    for (uint32_t i = 0; i < h->count; i++) {
      uint8_t v = src[pos + i];
      if (seen[v]++) return 0;
      h->values[i] = v, h->class_of[v] = (uint8_t)i;
    }
    pos += h->count;
  }
  for (uint32_t b = 0; b < 256; b++) {
    h->inverse[ad_forward(h->model == AD_BYTE ? h->variant : 0, b)] = (uint8_t)b;
  }
  return pos;
}

/*
 * Decodes an adaptive payload (src, len) of a plane of n bytes into out; `above` is the plane
 * above it (the mantissa model's contexts) or 0. Returns 1 when the payload is well formed, every
 * lane's stream is used exactly, and every lane ends in state 2^23.
 */
static int adaptive_decode(const uint8_t *src, uint32_t len, uint8_t *out, uint32_t n,
                           const uint8_t *above) {
  AdHeader h;
  uint32_t pos = ad_header(src, len, &h);
  if (!pos || (h.model == AD_MANTISSA && !above)) return 0;
  uint32_t lanes = h.lanes;
  if ((uint64_t)pos + 8 * lanes - 4 > len) return 0;
  AdTables tables[AD_MAX_LANES];
  AdLane ln[AD_MAX_LANES];
  uint16_t *columns = 0;
  if (h.mode == AD_COLUMN) {
#ifdef __wasm__
    /* WebAssembly has no allocator here, and an instance runs one call at a time. */
    static uint16_t ad_columns[AD_MAX_LANES * AD_MAX_COLUMNS];
    columns = ad_columns;
#else
    columns = malloc((size_t)lanes * h.cols * 2);
    if (!columns) return 0;
#endif
    memset(columns, 0xff, (size_t)lanes * h.cols * 2);
  }
  uint64_t at = (uint64_t)pos + 8 * lanes - 4;
  uint32_t longest = 0;
  int ok = 1;
  for (uint32_t k = 0; k < lanes; k++) {
    AdLane *l = &ln[k];
    l->t = &tables[k];
    for (uint32_t t = 0; t < AD_TABLES; t++) {
      for (uint32_t j = 0; j < 15; j++) l->t->c[t][j] = (uint16_t)((j + 1) * (AD_TOTAL / 16));
      l->t->c[t][15] = 0;
      l->t->u[t] = 0;
    }
    l->x = rd32(src + pos + 4 * k);
    uint64_t length = k + 1 < lanes ? rd32(src + pos + 4 * lanes + 4 * k) : len - at;
    if (l->x < AD_LOW || l->x >= 0x80000000u || at + length > len) ok = 0;
    l->p = src + (ok ? at : 0), l->end = l->p + (ok ? length : 0);
    at += length;
    l->begin = (uint32_t)(((uint64_t)k * n) / lanes);
    l->stop = (uint32_t)(((uint64_t)(k + 1) * n) / lanes);
    l->col = (l->begin / h.eb) % h.cols, l->sub = l->begin % h.eb;
    l->previous = 16, l->bad = 0;
    l->columns = columns ? columns + (size_t)k * h.cols : 0;
    if (l->stop - l->begin > longest) longest = l->stop - l->begin;
  }
  if (ok) {
#ifdef AD_VECTOR
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt")) {
      int64_t done = 0;
      if (lanes == 4) {
        uint32_t shortest = longest;
        for (uint32_t k = 0; k < 4; k++) {
          if (ln[k].stop - ln[k].begin < shortest) shortest = ln[k].stop - ln[k].begin;
        }
        done = ad_four_lanes(&h, ln, shortest, above, out);
      }
      ok = done >= 0 && ad_loop_avx2(&h, ln, (uint32_t)done, longest, above, out);
    } else {
      ok = ad_loop_scalar(&h, ln, 0, longest, above, out);
    }
#else
    ok = ad_loop_scalar(&h, ln, 0, longest, above, out);
#endif
  }
  for (uint32_t k = 0; ok && k < lanes; k++) {
    if (ln[k].bad || ln[k].p != ln[k].end || ln[k].x != AD_LOW) ok = 0;
  }
#ifndef __wasm__
  free(columns);
#endif
  return ok;
}

/* Merges an exponent (or high-byte) plane with the others, as put() does one element. Kept out of
 * line so that its `restrict` pointers hold and it vectorises: inlined into decode_chunk, whose
 * planes the compiler cannot prove apart, it ran 5 ms slower over human-fp32.bf16. */
__attribute__((noinline)) static void merge_exponents(uint32_t mode, const uint8_t *restrict e, const uint8_t *restrict m,
                            const uint8_t *restrict b1, const uint8_t *restrict b0,
                            uint8_t *restrict dst, uint32_t n) {
  /* Stores go through wr16/wr32: a tile's output offset need not be aligned (an odd-length U8
   * tensor before it shifts every later one). */
  if (mode == 2) {
    for (uint32_t i = 0; i < n; i++) {
      uint32_t a = m[i], s = e[i];
      wr16(dst + 2 * (size_t)i, ((a & 0x80) << 8) | (s << 7) | (a & 0x7f));
    }
  } else if (mode == 3) {
    for (uint32_t i = 0; i < n; i++) wr16(dst + 2 * (size_t)i, ((uint32_t)e[i] << 8) | m[i]);
  } else {
    for (uint32_t i = 0; i < n; i++) {
      uint32_t a = m[i], s = e[i];
      wr32(dst + 4 * (size_t)i, ((a & 0x80) << 24) | (s << 23) | ((a & 0x7f) << 16) |
                                    ((uint32_t)b1[i] << 8) | b0[i]);
    }
  }
}

/*
 * Context rANS planes (codec 6, docs/FORMAT.md "Context rANS"): rANS as codec 2, but each symbol
 * is decoded under the table of its context byte's class (the previous byte, the byte a row up,
 * or the byte of the plane above). Returns 0 on any malformed payload.
 */
#define CX_MAX_CLASSES 8
static int context_decode(const uint8_t *src, uint32_t len, uint8_t *out, uint32_t n,
                          const uint8_t *above) {
  if (len < 2) return 0;
  uint32_t source = src[0], shift = src[1], p = 2, cols = 0;
  if (source > 2 || shift > 7 || (source == 2 && !above)) return 0;
  if (source == 1) {
    if (len - p < 4) return 0;
    cols = rd32(src + p);
    if (cols < 4) return 0; /* narrower rows would chain the lanes */
    p += 4;
  }
  if (len - p < 2) return 0;
  uint32_t classes = src[p], listed = src[p + 1], keys = 256u >> shift;
  p += 2;
  if (classes < 2 || classes > CX_MAX_CLASSES || len - p < 2 * listed) return 0;
  uint8_t key_class[256];
  memset(key_class, 0, sizeof key_class);
  for (uint32_t i = 0, last = 0; i < listed; i++, p += 2) {
    uint32_t key = src[p], c = src[p + 1];
    if ((i > 0 && key <= last) || key >= keys || c < 1 || c >= classes) return 0;
    key_class[key] = (uint8_t)c;
    last = key;
  }
#ifdef __wasm__
  /* WebAssembly has no allocator here, and an instance runs one call at a time. */
  static uint32_t cx_slots[CX_MAX_CLASSES * SCALE_TOTAL];
  uint32_t *slots = cx_slots;
#else
  uint32_t *slots = malloc((size_t)classes * SCALE_TOTAL * 4);
  if (!slots) return 0;
#endif
  int ok = 0;
  for (uint32_t c = 0; c < classes; c++) {
    uint16_t freqs[256];
    uint8_t symbols[256];
    uint32_t count = 0, used = parse_table(src + p, len - p, freqs, symbols, &count);
    if (!used) goto done;
    p += used;
    uint32_t *sl = slots + (size_t)c * SCALE_TOTAL;
    for (uint32_t i = 0, begin = 0; i < count; i++) {
      uint32_t f = freqs[i], s = symbols[i];
      for (uint32_t j = 0; j < f; j++) sl[begin + j] = (f << 20) | (j << 8) | s;
      begin += f;
    }
  }
  if (len - p < 16 || ((len - p - 16) & 1)) goto done;
  uint32_t x[4];
  for (int k = 0; k < 4; k++) {
    x[k] = rd32(src + p + 4 * k);
    if (x[k] < STATE_LOW || x[k] >= 0x80000000u) goto done;
  }
  const uint8_t *wb = src + p + 16;
  uint32_t count = (len - p - 16) >> 1, q = 0;
  uint32_t table_of[256];
  for (uint32_t b = 0; b < 256; b++) table_of[b] = (uint32_t)key_class[b >> shift] << SCALE_BITS;
  /* Four lanes side by side, their states in registers. Source 0 reads the lane's own previous
   * symbol, also kept in a register, so no lane waits on another (7.2 to about 2 ns a byte). */
#define CX_STEP(x, b, j, s)                                               \
  do {                                                                    \
    uint32_t e_ = slots[table_of[b] | ((x) & MASK)];                      \
    (x) = (e_ >> 20) * ((x) >> SCALE_BITS) + ((e_ >> 8) & MASK);          \
    if ((x) < STATE_LOW) {                                                \
      (x) = ((x) << 16) | (q < count ? rd16(wb + 2 * (size_t)q) : 0);     \
      q++;                                                                \
    }                                                                     \
    (s) = e_ & 0xff;                                                      \
    out[j] = (uint8_t)(s);                                                \
  } while (0)
  uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3], s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
  if (source == 0) {
    for (; i + 4 <= n; i += 4) {
      CX_STEP(x0, s0, i, s0);
      CX_STEP(x1, s1, i + 1, s1);
      CX_STEP(x2, s2, i + 2, s2);
      CX_STEP(x3, s3, i + 3, s3);
    }
  } else {
    /* The context byte of i is ctx[i - back], 0 before the first row; cols >= 4, so it was
     * decoded in an earlier group of four. */
    const uint8_t *ctx = source == 2 ? above : out;
    uint32_t back = source == 2 ? 0 : cols;
    for (; i + 4 <= n; i += 4) {
      CX_STEP(x0, i >= back ? ctx[i - back] : 0, i, s0);
      CX_STEP(x1, i + 1 >= back ? ctx[i + 1 - back] : 0, i + 1, s1);
      CX_STEP(x2, i + 2 >= back ? ctx[i + 2 - back] : 0, i + 2, s2);
      CX_STEP(x3, i + 3 >= back ? ctx[i + 3 - back] : 0, i + 3, s3);
    }
  }
  x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
  for (; i < n; i++) { /* the last 1-3 symbols, lane i mod 4 */
    uint32_t b = source == 0 ? (i >= 4 ? out[i - 4] : 0)
                 : source == 2 ? above[i]
                               : (i >= cols ? out[i - cols] : 0);
    uint32_t s;
    CX_STEP(x[i & 3], b, i, s);
    (void)s;
  }
#undef CX_STEP
  ok = q == count && x[0] == STATE_LOW && x[1] == STATE_LOW && x[2] == STATE_LOW &&
       x[3] == STATE_LOW;
done:
#ifndef __wasm__
  free(slots);
#endif
  return ok;
}

/* Byte-wise merge of planes into elements, as codec/planes.ts mergePlanes. */
static void merge_planes(const uint8_t *const *planes, uint32_t width, int sign_moved,
                         uint8_t *dst, uint32_t n) {
  for (uint32_t p = 0; p < width; p++) {
    const uint8_t *pl = planes[p];
    for (uint32_t i = 0; i < n; i++) dst[(size_t)i * width + p] = pl[i];
  }
  if (sign_moved) {
    for (uint32_t i = 0; i < n; i++) {
      uint8_t *e = dst + (size_t)i * width + width - 1, *m = e - 1;
      uint8_t ev = *e, mv = *m;
      *e = (uint8_t)((mv & 0x80) | (ev >> 1));
      *m = (uint8_t)(((ev & 1) << 7) | (mv & 0x7f));
    }
  }
}

/*
 * Decodes chunk `d` into dst and checks it against its XXH32; returns its status. Raw planes are
 * used in place, other lower planes are decoded into `scratch` (`rawLength` bytes at most), and a
 * rANS or Huffman top plane is merged with them into whole elements. A packed layout (D_LAYOUT bit
 * 9) has one plane holding the tile's bytes as they are.
 *
 * Adaptive planes (codec 5) are decoded top plane first, since the mantissa model reads the plane
 * above; a chunk with one is merged in a separate pass instead of in the top plane's loop.
 */
static uint32_t decode_chunk(const uint8_t *stored, uint32_t stored_len, uint8_t *dst,
                             uint32_t dst_len, const uint32_t *d, uint8_t *scratch,
                             uint32_t scratch_len) {
  uint64_t so = d[D_STORED], sl = d[D_STORED_LEN], doff = d[D_DST], raw = d[D_RAW_LEN];
  uint32_t width = d[D_LAYOUT] & 0xff, sign_moved = (d[D_LAYOUT] >> 8) & 1,
           packed = (d[D_LAYOUT] >> 9) & 1;
  if ((d[D_LAYOUT] >> 10) != 0) return ST_FALLBACK;
  if (so + sl > stored_len || doff + raw > dst_len || width < 1 || width > 8) return ST_FALLBACK;
  if (raw % width) return ST_FAILED;
  if (raw > scratch_len) return ST_FALLBACK;
  if (packed) width = 1, sign_moved = 0; /* one plane: the tile's bytes */
  const uint8_t *c = stored + so;
  uint8_t *out = dst + doff;
  uint32_t n = (uint32_t)(raw / width), head = 1 + 5 * width;
  if (sl < head || c[0] != width) return ST_FAILED;
  const uint8_t *payload[8];
  uint32_t codec[8], plen[8], pos = head, adaptive = 0;
  for (uint32_t p = 0; p < width; p++) {
    codec[p] = c[1 + 5 * p];
    plen[p] = rd32(c + 2 + 5 * p);
    if (plen[p] > sl - pos) return ST_FAILED;
    payload[p] = c + pos;
    pos += plen[p];
    /* zstd, or an unknown codec: the TypeScript decoder decides. */
    if (codec[p] != CODEC_RAW && codec[p] != CODEC_CONST && codec[p] != CODEC_RANS &&
        codec[p] != CODEC_HUFFMAN && codec[p] != CODEC_ADAPTIVE && codec[p] != CODEC_CONTEXT) {
      return ST_FALLBACK;
    }
    /* Both may read the plane above, so the planes decode top first and merge afterwards. */
    adaptive |= codec[p] == CODEC_ADAPTIVE || codec[p] == CODEC_CONTEXT;
  }
  if (pos != sl) return ST_FAILED;
  uint32_t top = codec[width - 1], exponent = sign_moved && (width == 2 || width == 4);
  /* How the top plane is merged, as put(); 0 when it is decoded like the others. */
  uint32_t merge = adaptive                             ? 0
                   : top == CODEC_RANS && exponent      ? width
                   : top == CODEC_HUFFMAN && exponent   ? width
                   : top == CODEC_HUFFMAN && width == 2 ? 3
                                                        : 0;
  Stream st;
  const uint8_t *planes[8];
  for (uint32_t q = 0; q < width; q++) {
    /* Top plane first: an adaptive mantissa plane reads the plane above it. */
    uint32_t p = width - 1 - q;
    uint8_t *target = width == 1 ? out : scratch + (size_t)p * n;
    if (merge && p == width - 1) continue;
    if (codec[p] == CODEC_RAW) {
      if (plen[p] != n) return ST_FAILED;
      planes[p] = payload[p];
    } else if (codec[p] == CODEC_CONST) {
      if (plen[p] != 1) return ST_FAILED;
      memset(target, payload[p][0], n);
      planes[p] = target;
    } else if (codec[p] == CODEC_HUFFMAN) {
      if (!huf_decode(payload[p], plen[p], n, target)) return ST_FAILED;
      planes[p] = target;
    } else if (codec[p] == CODEC_ADAPTIVE) {
      if (!adaptive_decode(payload[p], plen[p], target, n, p + 1 < width ? planes[p + 1] : 0)) {
        return ST_FAILED;
      }
      planes[p] = target;
    } else if (codec[p] == CODEC_CONTEXT) {
      if (!context_decode(payload[p], plen[p], target, n, p + 1 < width ? planes[p + 1] : 0)) {
        return ST_FAILED;
      }
      planes[p] = target;
    } else {
      if (!open_stream(&st, payload[p], plen[p], n)) return ST_FAILED;
      st.mode = 0, st.dst = target, st.m = st.b1 = st.b0 = 0;
      decode_stream(&st);
      if (!stream_ok(&st)) return ST_FAILED;
      planes[p] = target;
    }
  }
  const uint8_t *m = width >= 2 ? planes[width - 2] : 0;
  const uint8_t *b1 = width == 4 ? planes[1] : 0, *b0 = width == 4 ? planes[0] : 0;
  if (merge && top == CODEC_HUFFMAN) {
    uint8_t *e = scratch + (size_t)(width - 1) * n;
    if (!huf_decode(payload[width - 1], plen[width - 1], n, e)) return ST_FAILED;
    merge_exponents(merge, e, m, b1, b0, out, n);
  } else if (merge) {
    /* rANS is limited by its dependency chain, not its instruction count: merging in the
     * decode loop costs almost nothing. */
    if (!open_stream(&st, payload[width - 1], plen[width - 1], n)) return ST_FAILED;
    st.mode = merge, st.dst = out, st.m = m, st.b1 = b1, st.b0 = b0;
    decode_stream(&st);
    if (!stream_ok(&st)) return ST_FAILED;
  } else if (width == 1) {
    if (planes[0] != out) memcpy(out, planes[0], n);
  } else if (exponent) {
    merge_exponents(width, planes[width - 1], m, b1, b0, out, n);
  } else if (width == 2) {
    merge_exponents(3, planes[1], m, 0, 0, out, n);
  } else {
    merge_planes(planes, width, sign_moved, out, n);
  }
  return tsr_xxh32(out, (uint32_t)raw, 0) == d[D_XXH32] ? ST_OK : ST_FAILED;
}

/* Copies the rows of a decoded column tile into place; returns 0 when they would not fit. */
static int scatter_rows(uint8_t *dst, uint32_t dst_len, const uint32_t *d) {
  uint64_t row = d[D_ROW_BYTES], stride = d[D_STRIDE], target = d[D_TARGET], raw = d[D_RAW_LEN];
  if (raw % row || stride < row) return 0;
  uint64_t rows = raw / row;
  if (rows && target + (rows - 1) * stride + row > dst_len) return 0;
  const uint8_t *from = dst + d[D_DST];
  for (uint64_t r = 0; r < rows; r++) memmove(dst + target + r * stride, from + r * row, row);
  return 1;
}

/*
 * Decodes `count` chunks described by `desc` (D_WORDS u32 each: stored offset and length within
 * `stored`, output offset within `dst`, raw length, width | signMoved << 8 | packed << 9 (the
 * packed INT4 layout: one plane of the tile's bytes), expected XXH32 of the raw bytes, status out, then for a column tile its row bytes, row stride and target in `dst`).
 * `scratch` needs the largest raw length in bytes. Returns how many chunks did not end ST_OK; a
 * tile that does not end ST_OK is not copied.
 */
uint32_t tsr_decode_batch(const uint8_t *stored, uint32_t stored_len, uint8_t *dst,
                          uint32_t dst_len, uint32_t *desc, uint32_t count, uint8_t *scratch,
                          uint32_t scratch_len) {
  uint32_t bad = 0;
  for (uint32_t k = 0; k < count; k++) {
    uint32_t *d = desc + (size_t)k * D_WORDS;
    d[D_STATUS] = decode_chunk(stored, stored_len, dst, dst_len, d, scratch, scratch_len);
    if (d[D_STATUS] == ST_OK && d[D_ROW_BYTES] && !scatter_rows(dst, dst_len, d)) {
      d[D_STATUS] = ST_FALLBACK;
    }
    bad += d[D_STATUS] != ST_OK;
  }
  return bad;
}
