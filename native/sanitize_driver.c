/*
 * Runs chunks through the native kernel under AddressSanitizer and UndefinedBehaviorSanitizer
 * (`deno task sanitize`, built by `deno task native --sanitize`). It drives the kernel only
 * through its exported ABI (tsr_abi, tsr_decode_batch, tsr_xxh32), as the FFI does, and gives
 * every buffer exactly the length its descriptor states, each in its own allocation, so that a
 * read or write one byte outside is reported.
 *
 * Input: a corpus file written by test/fuzz/sanitize.ts: the 8 bytes "TSRSAN01", then records of
 * ten little-endian u32 (layout = width | signMoved << 8, stored length, raw length, raw XXH32,
 * dst length, at, row bytes, stride, target, expected length), the stored bytes, and the expected
 * decoded bytes (expected length of them: 0, or the raw length when the record must decode to
 * them at `at` whenever the kernel says it decoded it).
 *
 * Before the corpus it runs the whole-file unpack pipeline (native/tsr_unpack.c) on two threads
 * over a small container it writes to a temporary file: every block must come out as expected and
 * hashed in order, a corrupt chunk must stop it at that block with exactly the blocks before it
 * hashed, a block handed to the callback must be used, and a cancelled run must stop at once;
 * streamed on a socket to a reader thread, the blocks must arrive in order, a corrupt chunk must
 * stop the stream after exactly the blocks before it, and a reader gone must stop it with EPIPE. When
 * the system's libzstd loads, every fourth block's first chunk is a zstd plane, which the pipeline
 * decodes on its threads (no callback), the corrupt one among them.
 *
 * Exit status 0 when every record ran and every decoded one matched; 1 on a mismatch or a bad
 * corpus; the sanitizers abort on any report.
 */
#define _GNU_SOURCE /* pread, fileno */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

uint32_t tsr_abi(void);
uint32_t tsr_xxh32(const uint8_t *data, uint32_t len, uint32_t seed);
uint32_t tsr_decode_batch(const uint8_t *stored, uint32_t stored_len, uint8_t *dst, uint32_t dst_len,
                          uint32_t *desc, uint32_t count, uint8_t *scratch, uint32_t scratch_len);

enum { EXPECTED_ABI = 3, D_WORDS = 10, D_STATUS = 6 };

void tsr_sha256_init(void *state);
void tsr_sha256_update(void *state, const uint8_t *p, uint64_t n);
void tsr_sha256_final(void *state, uint8_t out[32]);
typedef uint32_t (*HostFn)(uint32_t block, const uint8_t *stored, uint8_t *out);
void *tsr_unpack_open(uint32_t threads);
void tsr_unpack_close(void *context);
int32_t tsr_unpack_run(void *context, int32_t in_fd, int32_t out_fd, double *blocks,
                       uint32_t first, uint32_t count, const double *runs, uint32_t *jobs,
                       const double *literals, const uint8_t *blob, const double *copies,
                       HostFn host, void *sha, int32_t *ctl);
int32_t tsr_unpack_stream(void *context, int32_t in_fd, int32_t out_fd, double *blocks,
                          uint32_t first, uint32_t count, const double *runs, uint32_t *jobs,
                          const double *literals, const uint8_t *blob, const double *copies,
                          HostFn host, int32_t *ctl);

/* The unpack self-test's plan: UB blocks, each a 10-byte literal, a raw chunk, and a 4x8 tile
   decoded into the room after the output and copied into its last 32 bytes. */
enum { UB = 37, B_WORDS = 15, TILE = 32, LIT = 10 };
static uint8_t *u_expected;     /* every block's output, back to back */
static double u_out[UB + 1];    /* block k is u_expected[u_out[k], u_out[k + 1]) */
static uint32_t u_host_calls;
static uint8_t *exact(size_t n);

static uint32_t u_host(uint32_t k, const uint8_t *stored, uint8_t *out) {
  (void)stored;
  u_host_calls++;
  if (k == 5) return 0; /* the corrupt block: the caller keeps the error */
  size_t n = (size_t)(u_out[k + 1] - u_out[k]);
  memcpy(out, u_expected + (size_t)u_out[k], n);
  return 1;
}

static int unpack_fail(const char *what) {
  fprintf(stderr, "sanitize_driver: unpack pipeline: %s\n", what);
  return 1;
}

/* ZSTD_compress of the system's libzstd, or NULL: the pipeline opens the same library. */
typedef size_t (*ZstdCompress)(void *, size_t, const void *, size_t, int);
static ZstdCompress zstd_compress(void) {
  void *h = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
  ZstdCompress f = 0;
  if (h) *(void **)&f = dlsym(h, "ZSTD_compress");
  return f;
}

/* The reader of a streamed run: everything from `fd` until its end, into `buf`. */
typedef struct {
  int fd;
  uint8_t *buf;
  size_t cap, got;
} Reader;

static void *read_stream(void *arg) {
  Reader *r = arg;
  for (;;) {
    ssize_t n = read(r->fd, r->buf + r->got, r->cap - r->got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r->got += (size_t)n;
  }
  return 0;
}

/* Streams blocks [0, UB) on a socket pair to a reader thread (none, its end closed, with
   `gone`); the result, and the bytes it read in `*got`. */
static int32_t stream_into(void *context, int in_fd, double *blocks, const double *runs,
                           uint32_t *jobs, const double *literals, const uint8_t *blob,
                           const double *copies, int32_t *ctl, uint8_t *into, size_t cap,
                           size_t *got, int gone) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;
  fcntl(sv[0], F_SETFL, O_NONBLOCK);
  Reader reader = {.fd = sv[1], .buf = into, .cap = cap};
  pthread_t t;
  if (gone) close(sv[1]);
  else if (pthread_create(&t, 0, read_stream, &reader) != 0) return -1;
  int32_t r = tsr_unpack_stream(context, in_fd, sv[0], blocks, 0, UB, runs, jobs, literals, blob,
                                copies, u_host, ctl);
  close(sv[0]);
  if (!gone) pthread_join(t, 0), close(sv[1]);
  *got = reader.got;
  return r;
}

static int unpack_selftest(void) {
  ZstdCompress compress = zstd_compress();
  uint8_t frame[8192];
  double blocks[UB * B_WORDS] = {0}, runs[UB * 2], literals[UB * 3], copies[UB * 8];
  uint32_t jobs[UB * 2 * D_WORDS] = {0};
  uint8_t blob[UB * LIT];
  size_t total = 0;
  for (int k = 0; k < UB; k++) u_out[k] = (double)total, total += 3000 + (size_t)(k * 37 % 500);
  u_out[UB] = (double)total;
  u_expected = exact(total);
  for (size_t i = 0; i < total; i++) u_expected[i] = (uint8_t)(i * 2654435761u >> 13);
  FILE *in = tmpfile(), *out = tmpfile();
  if (!in || !out) return unpack_fail("no temporary file");
  size_t pos = 0;
  for (int k = 0; k < UB; k++) {
    size_t at = (size_t)u_out[k], len = (size_t)(u_out[k + 1] - u_out[k]);
    uint32_t n1 = (uint32_t)(len - LIT - TILE);
    const uint8_t *exp = u_expected + at;
    /* The tile holds the last 32 bytes as 4 rows of 8. */
    /* The first chunk's plane as it is, or (every fourth block, block 5 too) a zstd frame. */
    const uint8_t *plane = exp + LIT;
    uint32_t s1 = n1, codec = 0;
    if (compress && k % 4 == 1) {
      size_t z = compress(frame, sizeof frame, exp + LIT, n1, 3);
      if (z > sizeof frame) return unpack_fail("ZSTD_compress failed");
      plane = frame, s1 = (uint32_t)z, codec = 3;
    }
    uint8_t h1[6] = {1, (uint8_t)codec, (uint8_t)s1, (uint8_t)(s1 >> 8), 0, 0};
    uint8_t h2[6] = {1, 0, TILE, 0, 0, 0};
    fwrite(h1, 1, 6, in), fwrite(plane, 1, s1, in), fwrite(h2, 1, 6, in);
    fwrite(exp + len - TILE, 1, TILE, in);
    double *b = blocks + k * B_WORDS;
    b[0] = (double)at, b[1] = (double)len, b[2] = (double)(len + TILE), b[3] = 2 * k, b[4] = 2;
    b[5] = k, b[6] = 1, b[7] = k, b[8] = 1, b[9] = k, b[10] = 1, b[11] = n1, b[12] = 12 + s1 + TILE;
    b[13] = k == 7; /* the caller's own block */
    runs[2 * k] = (double)pos, runs[2 * k + 1] = (double)(pos + 12 + s1 + TILE);
    literals[3 * k] = 0, literals[3 * k + 1] = k * LIT, literals[3 * k + 2] = LIT;
    memcpy(blob + k * LIT, exp, LIT);
    uint32_t *j = jobs + 2 * k * D_WORDS;
    j[0] = 0, j[1] = 6 + s1, j[2] = LIT, j[3] = n1, j[4] = 1, j[5] = tsr_xxh32(exp + LIT, n1, 0);
    j += D_WORDS;
    j[0] = 6 + s1, j[1] = 6 + TILE, j[2] = (uint32_t)len, j[3] = TILE, j[4] = 1;
    j[5] = tsr_xxh32(exp + len - TILE, TILE, 0);
    double c[8] = {(double)len, 8, 4, 8, (double)(len - TILE), 8, (double)(len - TILE), (double)len};
    memcpy(copies + 8 * k, c, sizeof c);
    pos += 12 + s1 + TILE;
  }
  fflush(in);
  uint8_t state[112], want[32], got[32];
  int32_t ctl[16] = {0};
  void *context = tsr_unpack_open(2);
  if (!context) return unpack_fail("no memory");
  /* 1: every block, block 7 by the callback. */
  tsr_sha256_init(state);
  int32_t r = tsr_unpack_run(context, fileno(in), fileno(out), blocks, 0, UB, runs, jobs, literals,
                             blob, copies, u_host, state, ctl);
  if (r != 0 || ctl[1] != UB || u_host_calls != 1) return unpack_fail("the whole run failed");
  tsr_sha256_final(state, got);
  tsr_sha256_init(state), tsr_sha256_update(state, u_expected, total), tsr_sha256_final(state, want);
  uint8_t *written = exact(total);
  if (pread(fileno(out), written, total, 0) != (ssize_t)total || memcmp(written, u_expected, total) ||
      memcmp(got, want, 32)) {
    return unpack_fail("the output or its SHA-256 differ");
  }
  /* 2: a corrupt chunk in block 5 stops the run there, blocks 0-4 hashed. */
  jobs[2 * 5 * D_WORDS + 5] ^= 1;
  tsr_sha256_init(state);
  r = tsr_unpack_run(context, fileno(in), fileno(out), blocks, 0, UB, runs, jobs, literals, blob,
                     copies, u_host, state, ctl);
  tsr_sha256_final(state, got);
  tsr_sha256_init(state), tsr_sha256_update(state, u_expected, (size_t)u_out[5]);
  tsr_sha256_final(state, want);
  if (r != 1 || ctl[2] != 5 || ctl[1] != 5 || memcmp(got, want, 32)) {
    return unpack_fail("a corrupt chunk did not stop the run at its block");
  }
  /* 3: cancelled before it starts, from block 9 on. */
  ctl[0] = 1;
  tsr_sha256_init(state);
  r = tsr_unpack_run(context, fileno(in), fileno(out), blocks + 9 * B_WORDS, 9, UB - 9, runs, jobs,
                     literals, blob, copies, u_host, state, ctl);
  if (r != 5 || ctl[2] != 0 || ctl[1] != 0) return unpack_fail("a cancelled run went on");
  ctl[0] = 0;
  /* 4: streamed on a socket to a reader: the corrupt block 5 stops it after exactly blocks 0-4;
     sound again, every block in order; a reader gone is EPIPE. */
  size_t sent = 0;
  r = stream_into(context, fileno(in), blocks, runs, jobs, literals, blob, copies, ctl, written,
                  total, &sent, 0);
  if (r != 1 || ctl[2] != 5 || sent != (size_t)u_out[5] || memcmp(written, u_expected, sent)) {
    return unpack_fail("a corrupt chunk did not stop the stream after the blocks before it");
  }
  jobs[2 * 5 * D_WORDS + 5] ^= 1;
  r = stream_into(context, fileno(in), blocks, runs, jobs, literals, blob, copies, ctl, written,
                  total, &sent, 0);
  if (r != 0 || sent != total || memcmp(written, u_expected, total)) {
    return unpack_fail("the streamed output differs");
  }
  r = stream_into(context, fileno(in), blocks, runs, jobs, literals, blob, copies, ctl, written,
                  total, &sent, 1);
  if (r != 4 || ctl[3] != EPIPE) return unpack_fail("a stream whose reader is gone went on");
  tsr_unpack_close(context);
  fclose(in), fclose(out), free(written), free(u_expected);
  printf("sanitize_driver: unpack pipeline: %d blocks on 2 threads (%s), a corrupt chunk, a "
         "cancel, streamed: ok\n", UB, compress ? "9 with a zstd plane" : "no libzstd: no zstd plane");
  return 0;
}

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* An allocation of exactly n bytes (at least one, so that malloc(0) is never asked for). */
static uint8_t *exact(size_t n) {
  uint8_t *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "sanitize_driver: out of memory for %zu bytes\n", n);
    exit(1);
  }
  return p;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: sanitize_driver <corpus>\n");
    return 1;
  }
  if (tsr_abi() != EXPECTED_ABI) {
    fprintf(stderr, "sanitize_driver: kernel ABI %u, driver expects %u\n", tsr_abi(), EXPECTED_ABI);
    return 1;
  }
  if (unpack_selftest() != 0) return 1;
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  uint8_t magic[8];
  if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "TSRSAN01", 8) != 0) {
    fprintf(stderr, "sanitize_driver: %s is not a corpus file\n", argv[1]);
    return 1;
  }
  unsigned long records = 0, decoded = 0, left = 0, mismatches = 0;
  uint8_t head[40];
  size_t got;
  while ((got = fread(head, 1, sizeof head, f)) == sizeof head) {
    uint32_t w[10];
    for (int i = 0; i < 10; i++) w[i] = rd32(head + 4 * i);
    uint32_t stored_len = w[1], raw_len = w[2], dst_len = w[4], expected_len = w[9];
    uint8_t *stored = exact(stored_len), *expected = exact(expected_len);
    if (fread(stored, 1, stored_len, f) != stored_len ||
        fread(expected, 1, expected_len, f) != expected_len) {
      fprintf(stderr, "sanitize_driver: record %lu is cut short\n", records);
      return 1;
    }
    uint8_t *dst = exact(dst_len), *scratch = exact(raw_len);
    memset(dst, 0xa5, dst_len ? dst_len : 1);
    uint32_t desc[D_WORDS] = {0, stored_len, w[5], raw_len, w[0], w[3], 0, w[6], w[7], w[8]};
    tsr_decode_batch(stored, stored_len, dst, dst_len, desc, 1, scratch, raw_len);
    (void)tsr_xxh32(stored, stored_len, records);
    if (desc[D_STATUS] == 0) {
      decoded++;
      if (expected_len && (w[6] != 0 || (uint64_t)w[5] + expected_len > dst_len ||
                           memcmp(dst + w[5], expected, expected_len) != 0)) {
        /* Without a scatter the tile sits at `at`; with one, the corpus sends no expectation. */
        fprintf(stderr, "sanitize_driver: record %lu decoded to other bytes\n", records);
        mismatches++;
      }
    } else {
      left++;
    }
    free(stored), free(expected), free(dst), free(scratch);
    records++;
  }
  if (got != 0 || !feof(f)) {
    fprintf(stderr, "sanitize_driver: trailing bytes after record %lu\n", records);
    return 1;
  }
  fclose(f);
  printf("sanitize_driver: %lu records, %lu decoded, %lu left to the TypeScript decoder, "
         "%lu mismatches\n", records, decoded, left, mismatches);
  return mismatches ? 1 : 0;
}
