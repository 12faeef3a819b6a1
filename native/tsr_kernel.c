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

#define SCALE_BITS 12
#define SCALE_TOTAL (1u << SCALE_BITS)
#define MASK (SCALE_TOTAL - 1)
#define STATE_LOW (1u << 15)
#define MAX_RICE_K 12

enum { CODEC_RAW = 0, CODEC_CONST = 1, CODEC_RANS = 2, CODEC_ZSTD = 3, CODEC_HUFFMAN = 4 };

/* Chunk statuses written to the descriptor table; mirrored in src/codec_native/kernel.ts. */
enum { ST_OK = 0, ST_FALLBACK = 1, ST_FAILED = 2 };

/* The interface's version, checked by src/codec_native/kernel.ts before it uses the library: a
 * stale build with another descriptor layout is ignored, never misread. */
#define TSR_ABI 2
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

/* Reads a frequency table (docs/FORMAT.md, "Frequency tables") into st: the full slot lookup, or
 * for a small stream the cumulative frequencies. Returns the offset past the table, or 0 on any
 * error. */
static uint32_t read_table(const uint8_t *src, uint32_t len, Stream *st) {
  uint16_t freqs[256];
  uint8_t symbols[256];
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
  return (uint32_t)((bit + 7) >> 3);
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
 * rANS or Huffman top plane is merged with them into whole elements.
 */
static uint32_t decode_chunk(const uint8_t *stored, uint32_t stored_len, uint8_t *dst,
                             uint32_t dst_len, const uint32_t *d, uint8_t *scratch,
                             uint32_t scratch_len) {
  uint64_t so = d[D_STORED], sl = d[D_STORED_LEN], doff = d[D_DST], raw = d[D_RAW_LEN];
  uint32_t width = d[D_LAYOUT] & 0xff, sign_moved = (d[D_LAYOUT] >> 8) & 1;
  if (so + sl > stored_len || doff + raw > dst_len || width < 1 || width > 8) return ST_FALLBACK;
  if (raw % width) return ST_FAILED;
  if (raw > scratch_len) return ST_FALLBACK;
  const uint8_t *c = stored + so;
  uint8_t *out = dst + doff;
  uint32_t n = (uint32_t)(raw / width), head = 1 + 5 * width;
  if (sl < head || c[0] != width) return ST_FAILED;
  const uint8_t *payload[8];
  uint32_t codec[8], plen[8], pos = head;
  for (uint32_t p = 0; p < width; p++) {
    codec[p] = c[1 + 5 * p];
    plen[p] = rd32(c + 2 + 5 * p);
    if (plen[p] > sl - pos) return ST_FAILED;
    payload[p] = c + pos;
    pos += plen[p];
    /* zstd, or an unknown codec: the TypeScript decoder decides. */
    if (codec[p] != CODEC_RAW && codec[p] != CODEC_CONST && codec[p] != CODEC_RANS &&
        codec[p] != CODEC_HUFFMAN) return ST_FALLBACK;
  }
  if (pos != sl) return ST_FAILED;
  uint32_t top = codec[width - 1], exponent = sign_moved && (width == 2 || width == 4);
  /* How the top plane is merged, as put(); 0 when it is decoded like the others. */
  uint32_t merge = top == CODEC_RANS && exponent        ? width
                   : top == CODEC_HUFFMAN && exponent   ? width
                   : top == CODEC_HUFFMAN && width == 2 ? 3
                                                        : 0;
  Stream st;
  const uint8_t *planes[8];
  for (uint32_t p = 0; p < width; p++) {
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
 * `stored`, output offset within `dst`, raw length, width | signMoved << 8, expected XXH32 of the
 * raw bytes, status out, then for a column tile its row bytes, row stride and target in `dst`).
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
