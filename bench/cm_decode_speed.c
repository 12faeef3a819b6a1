/*
 * Decode speed of the context-mixing coder priced by bench/cm_study.ts (issue 13, round 4), in C
 * with integer arithmetic as a kernel would have it: the same models (order 0, previous symbol,
 * symbol above, row and column running averages, reference-row symbol, a match bit), counters with
 * a count-driven rate, one logistic mixer per tree depth, and an LZMA-style binary range coder.
 * It encodes 256 KiB chunks of a file's bytes (as FP8 E4M3 symbols: exponent, sign, mantissa),
 * decodes them, checks the round trip, and prints the decoded bytes per CPU second.
 *
 * Not part of the product: a measurement. Build and run:
 *   cc -O2 -march=native -o /tmp/cm_speed bench/cm_decode_speed.c -lm
 *   /tmp/cm_speed FILE.safetensors [cols]
 * (add -DNMODELS=1 for order 0 alone, -DNMODELS=3 for order 0, previous and above)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Models mixed: 6 (all), or fewer for the speed of a smaller mixer (-DNMODELS=1: order 0). */
#ifndef NMODELS
#define NMODELS 6
#endif
#define NIN (NMODELS + 2) /* + match + bias */
#define LIMIT 1000
#define CHUNK 262144

static int16_t stretch_t[4096];
static uint16_t squash_t[4096]; /* index: stretch + 2048, value: p(1) in 12 bits */
static uint32_t recip[LIMIT + 1];

static void tables(void) {
  for (int i = 0; i < 4096; i++) {
    double x = (i - 2048) / 256.0; /* stretch domain, 8 fractional bits */
    int p = (int)lround(4096.0 / (1.0 + exp(-x)));
    squash_t[i] = p < 1 ? 1 : p > 4095 ? 4095 : p;
  }
  for (int p = 0; p < 4096; p++) {
    double q = (p + 0.5) / 4096.0;
    double s = log(q / (1 - q)) * 256.0;
    stretch_t[p] = s > 2047 ? 2047 : s < -2047 ? -2047 : (int16_t)lround(s);
  }
  for (int n = 0; n <= LIMIT; n++) recip[n] = (uint32_t)(65536.0 / (n + 1.5));
}

static inline int squash(int x) {
  if (x > 2047) x = 2047;
  if (x < -2047) x = -2047;
  return squash_t[x + 2048];
}

typedef struct {
  uint16_t *p; /* p(1) in 16 bits */
  uint16_t *n;
  int contexts;
} Counters;

static void counters_init(Counters *c, int contexts) {
  c->contexts = contexts;
  c->p = malloc(sizeof(uint16_t) * 256 * contexts);
  c->n = malloc(sizeof(uint16_t) * 256 * contexts);
}

static void counters_reset(Counters *c) {
  for (int i = 0; i < 256 * c->contexts; i++) c->p[i] = 32768, c->n[i] = 32;
}

static inline void counters_update(Counters *c, int i, int bit) {
  int p = c->p[i], n = c->n[i];
  int target = bit ? 65535 : 0;
  c->p[i] = (uint16_t)(p + (int)(((int64_t)(target - p) * recip[n]) >> 16));
  if (n < LIMIT) c->n[i] = n + 1;
}

typedef struct {
  Counters m[NMODELS];
  Counters match;
  int32_t w[8 * NIN];
  uint8_t col_avg[CHUNK];
} Model;

/* Range coder (LZMA's): 32-bit low/range, 12-bit probabilities given per bit. */
typedef struct {
  uint64_t low;
  uint32_t range;
  uint8_t cache;
  uint64_t cache_size;
  uint8_t *out;
  size_t pos;
} Enc;

static void enc_shift(Enc *e) {
  if ((uint32_t)e->low < 0xFF000000u || (e->low >> 32) != 0) {
    uint8_t carry = (uint8_t)(e->low >> 32);
    uint8_t temp = e->cache;
    do {
      e->out[e->pos++] = (uint8_t)(temp + carry);
      temp = 0xFF;
    } while (--e->cache_size != 0);
    e->cache = (uint8_t)(e->low >> 24);
  }
  e->cache_size++;
  e->low = (e->low & 0x00FFFFFF) << 8;
}

static inline void enc_bit(Enc *e, int p1, int bit) {
  uint32_t bound = (e->range >> 12) * (uint32_t)(4096 - p1); /* probability of a 0 */
  if (!bit) e->range = bound;
  else e->low += bound, e->range -= bound;
  while (e->range < (1u << 24)) e->range <<= 8, enc_shift(e);
}

typedef struct {
  uint32_t range, code;
  const uint8_t *in;
  size_t pos;
} Dec;

static inline int dec_bit(Dec *d, int p1) {
  uint32_t bound = (d->range >> 12) * (uint32_t)(4096 - p1);
  int bit;
  if (d->code < bound) d->range = bound, bit = 0;
  else d->code -= bound, d->range -= bound, bit = 1;
  while (d->range < (1u << 24)) d->range <<= 8, d->code = (d->code << 8) | d->in[d->pos++];
  return bit;
}

/* Codes (or decodes, when dec) rows x cols symbols; ref[r] is the reference row or -1. */
static void code_chunk(Model *M, uint8_t *sym, int rows, int cols, const int *ref, Enc *e, Dec *d) {
  for (int m = 0; m < NMODELS; m++) counters_reset(&M->m[m]);
  counters_reset(&M->match);
  for (int i = 0; i < 8 * NIN; i++) M->w[i] = (int)(0.2 * 65536);
  memset(M->col_avg, 0, (size_t)cols);
  int row_avg = 0; /* 4 fractional bits */
  int t = 0;
  for (int r = 0; r < rows; r++) {
    int prev = 16;
    for (int c = 0; c < cols; c++, t++) {
      int i = r * cols + c;
      int above = r > 0 ? sym[i - cols] >> 4 : 16;
      int rs = ref[r] >= 0 ? sym[ref[r] * cols + c] : -1;
      int base[6] = {
          0,
          prev * 256,
          above * 256,
          (row_avg >> 4) * 256,
          (M->col_avg[c] >> 4) * 256,
          (rs >= 0 ? rs >> 2 : 64) * 256,
      };
      int agree = rs >= 0, node = 1, s = e ? sym[i] : 0;
      int lr_shift = t < 4096 ? 10 : 12; /* mixer rate about 1/64 early, then 1/256 */
      for (int dd = 0; dd < 8; dd++) {
        int in[NIN], k = 0;
        for (int m = 0; m < NMODELS; m++) in[k++] = stretch_t[M->m[m].p[base[m] + node] >> 4];
        int expect = 0;
        if (agree) {
          expect = (rs >> (7 - dd)) & 1;
          int st = stretch_t[M->match.p[dd] >> 4];
          in[k++] = expect ? st : -st;
        } else in[k++] = 0;
        in[k++] = 64;
        int32_t *w = &M->w[dd * NIN];
        int64_t dot = 0;
        for (int j = 0; j < NIN; j++) dot += (int64_t)w[j] * in[j];
        int p = squash((int)(dot >> 16));
        int bit;
        if (e) bit = (s >> (7 - dd)) & 1, enc_bit(e, p, bit);
        else bit = dec_bit(d, p);
        int err = (bit << 12) - p;
        for (int j = 0; j < NIN; j++) w[j] += (in[j] * err) >> lr_shift;
        for (int m = 0; m < NMODELS; m++) counters_update(&M->m[m], base[m] + node, bit);
        if (agree) {
          counters_update(&M->match, dd, bit == expect);
          if (bit != expect) agree = 0;
        }
        node = node * 2 + bit;
      }
      if (!e) sym[i] = (uint8_t)node;
      int top = sym[i] >> 4;
      prev = top;
      row_avg += ((top << 4) - row_avg) / 4;
      M->col_avg[c] += ((top << 4) - M->col_avg[c]) / 4;
    }
  }
}

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 2) return fprintf(stderr, "usage: %s FILE [cols]\n", argv[0]), 2;
  int cols = argc > 2 ? atoi(argv[2]) : 256;
  FILE *f = fopen(argv[1], "rb");
  if (!f) return perror(argv[1]), 1;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *file = malloc((size_t)size);
  if (fread(file, 1, (size_t)size, f) != (size_t)size) return perror("read"), 1;
  fclose(f);
  uint64_t hl;
  memcpy(&hl, file, 8);
  uint8_t *data = file + 8 + hl;
  long n = size - 8 - (long)hl;
  tables();
  Model M;
  static const int ctxs[6] = {1, 17, 17, 16, 16, 65};
  for (int m = 0; m < NMODELS; m++) counters_init(&M.m[m], ctxs[m]);
  counters_init(&M.match, 1);
  int rows = CHUNK / cols;
  int *ref = malloc(sizeof(int) * rows);
  for (int r = 0; r < rows; r++) ref[r] = -1;
  uint8_t *sym = malloc(CHUNK), *back = malloc(CHUNK), *buf = malloc(2 * CHUNK);
  size_t coded = 0, raw = 0;
  double dec_cpu = 0;
  for (long off = 0; off + CHUNK <= n; off += CHUNK) {
    for (int i = 0; i < CHUNK; i++) {
      uint8_t b = data[off + i];
      sym[i] = (uint8_t)(((b & 0x78) << 1) | ((b >> 4) & 8) | (b & 7));
    }
    Enc e = {0, 0xFFFFFFFFu, 0, 1, buf, 0};
    code_chunk(&M, sym, rows, cols, ref, &e, NULL);
    for (int k = 0; k < 5; k++) enc_shift(&e);
    double t0 = cpu_seconds();
    Dec d = {0xFFFFFFFFu, 0, buf, 1};
    for (int k = 0; k < 4; k++) d.code = (d.code << 8) | buf[d.pos++];
    code_chunk(&M, back, rows, cols, ref, NULL, &d);
    dec_cpu += cpu_seconds() - t0;
    if (memcmp(sym, back, CHUNK) != 0) return fprintf(stderr, "round trip failed at %ld\n", off), 1;
    coded += e.pos;
    raw += CHUNK;
  }
  printf("{\"raw\":%zu,\"coded\":%zu,\"decodeCpuSeconds\":%.3f,\"decodeMBps\":%.1f,\"nsPerByte\":%.1f}\n",
         raw, coded, dec_cpu, raw / dec_cpu / 1e6, dec_cpu * 1e9 / raw);
  return 0;
}
