/*
 * SHA-256 (FIPS 180-4) for the CLI and the server, through Deno FFI. With the x86 SHA extensions
 * it runs at about 2 GB/s on one core; Deno's Web Crypto ran at 0.3 GB/s here, and node:crypto,
 * though fast (1.6 GB/s), costs about 45 ms of Node-compatibility start-up per process, which is
 * most of a small model's unpack. Without the extensions a portable C loop runs instead.
 *
 * State layout (tsr_sha256_state, 112 bytes, owned by the caller): 8 x u32 hash words, u64 total
 * bytes, u32 bytes buffered, u32 padding, then 64 bytes of buffered input.
 */
#include <stdint.h>
#include <string.h>

typedef struct {
  uint32_t h[8];
  uint64_t total;
  uint32_t buffered;
  uint32_t pad;
  uint8_t buf[64];
} tsr_sha256_state;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static inline uint32_t ror(uint32_t x, int r) { return (x >> r) | (x << (32 - r)); }

static void blocks_portable(uint32_t h[8], const uint8_t *p, size_t n) {
  for (; n > 0; n--, p += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
      w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
             (uint32_t)p[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
      uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
      uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
      uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
  }
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

/* The SHA-NI round structure of Intel's reference (also in OpenSSL and Linux): state kept as
 * ABEF/CDGH, four rounds per sha256rnds2 pair, message schedule with sha256msg1/msg2. */
__attribute__((target("sha,sse4.1"))) static void blocks_shani(uint32_t h[8], const uint8_t *p,
                                                               size_t n) {
  const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i tmp = _mm_loadu_si128((const __m128i *)&h[0]);
  __m128i state1 = _mm_loadu_si128((const __m128i *)&h[4]);
  tmp = _mm_shuffle_epi32(tmp, 0xB1);          /* CDAB */
  state1 = _mm_shuffle_epi32(state1, 0x1B);    /* EFGH */
  __m128i state0 = _mm_alignr_epi8(tmp, state1, 8); /* ABEF */
  state1 = _mm_blend_epi16(state1, tmp, 0xF0);      /* CDGH */
  for (; n > 0; n--, p += 64) {
    __m128i abef = state0, cdgh = state1, msg, m0, m1, m2, m3;
    m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), MASK);
    m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), MASK);
    m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), MASK);
    m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), MASK);
#define ROUNDS(m, i)                                                                               \
  msg = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K[i]));                                 \
  state1 = _mm_sha256rnds2_epu32(state1, state0, msg);                                             \
  state0 = _mm_sha256rnds2_epu32(state0, state1, _mm_shuffle_epi32(msg, 0x0E));
    /* Rounds 0-15 use the message words as they are. */
    ROUNDS(m0, 0);
    ROUNDS(m1, 4);
    m0 = _mm_sha256msg1_epu32(m0, m1);
    ROUNDS(m2, 8);
    m1 = _mm_sha256msg1_epu32(m1, m2);
    ROUNDS(m3, 12);
    /* Rounds 16-63: W[i] from W[i-16..i-1], four at a time. */
    for (int i = 16; i < 64; i += 16) {
      m0 = _mm_sha256msg2_epu32(_mm_add_epi32(m0, _mm_alignr_epi8(m3, m2, 4)), m3);
      ROUNDS(m0, i);
      m2 = _mm_sha256msg1_epu32(m2, m3);
      m1 = _mm_sha256msg2_epu32(_mm_add_epi32(m1, _mm_alignr_epi8(m0, m3, 4)), m0);
      ROUNDS(m1, i + 4);
      m3 = _mm_sha256msg1_epu32(m3, m0);
      m2 = _mm_sha256msg2_epu32(_mm_add_epi32(m2, _mm_alignr_epi8(m1, m0, 4)), m1);
      ROUNDS(m2, i + 8);
      m0 = _mm_sha256msg1_epu32(m0, m1);
      m3 = _mm_sha256msg2_epu32(_mm_add_epi32(m3, _mm_alignr_epi8(m2, m1, 4)), m2);
      ROUNDS(m3, i + 12);
      m1 = _mm_sha256msg1_epu32(m1, m2);
    }
#undef ROUNDS
    state0 = _mm_add_epi32(state0, abef);
    state1 = _mm_add_epi32(state1, cdgh);
  }
  tmp = _mm_shuffle_epi32(state0, 0x1B);       /* FEBA */
  state1 = _mm_shuffle_epi32(state1, 0xB1);    /* DCHG */
  state0 = _mm_blend_epi16(tmp, state1, 0xF0); /* DCBA */
  state1 = _mm_alignr_epi8(state1, tmp, 8);    /* HGFE */
  _mm_storeu_si128((__m128i *)&h[0], state0);
  _mm_storeu_si128((__m128i *)&h[4], state1);
}

static int has_shani(void) {
  static int known = -1;
  if (known < 0) {
    unsigned a, b, c, d;
    known = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) != 0 &&
            __builtin_cpu_supports("sse4.1");
  }
  return known;
}
#endif

static void blocks(uint32_t h[8], const uint8_t *p, size_t n) {
#if defined(__x86_64__) || defined(__i386__)
  if (has_shani()) {
    blocks_shani(h, p, n);
    return;
  }
#endif
  blocks_portable(h, p, n);
}

/** 1 when the SHA extensions are used, 0 for the portable loop. */
uint32_t tsr_sha256_accelerated(void) {
#if defined(__x86_64__) || defined(__i386__)
  return (uint32_t)has_shani();
#else
  return 0;
#endif
}

void tsr_sha256_init(tsr_sha256_state *s) {
  static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, H0, sizeof H0);
  s->total = 0;
  s->buffered = 0;
  s->pad = 0;
}

void tsr_sha256_update(tsr_sha256_state *s, const uint8_t *p, uint64_t n) {
  s->total += n;
  if (s->buffered > 0) {
    uint32_t take = 64 - s->buffered;
    if (take > n) take = (uint32_t)n;
    memcpy(s->buf + s->buffered, p, take);
    s->buffered += take, p += take, n -= take;
    if (s->buffered < 64) return;
    blocks(s->h, s->buf, 1);
    s->buffered = 0;
  }
  if (n >= 64) {
    blocks(s->h, p, (size_t)(n / 64));
    p += n & ~(uint64_t)63;
    n &= 63;
  }
  memcpy(s->buf, p, (size_t)n);
  s->buffered = (uint32_t)n;
}

void tsr_sha256_final(tsr_sha256_state *s, uint8_t out[32]) {
  uint64_t bits = s->total * 8;
  uint8_t pad[72] = {0x80};
  uint32_t padLen = (s->buffered < 56 ? 56 : 120) - s->buffered;
  for (int i = 0; i < 8; i++) pad[padLen + i] = (uint8_t)(bits >> (56 - 8 * i));
  uint64_t total = s->total;
  tsr_sha256_update(s, pad, padLen + 8);
  s->total = total;
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(s->h[i] >> 24), out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(s->h[i] >> 8), out[4 * i + 3] = (uint8_t)s->h[i];
  }
}
