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
 * Exit status 0 when every record ran and every decoded one matched; 1 on a mismatch or a bad
 * corpus; the sanitizers abort on any report.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t tsr_abi(void);
uint32_t tsr_xxh32(const uint8_t *data, uint32_t len, uint32_t seed);
uint32_t tsr_decode_batch(const uint8_t *stored, uint32_t stored_len, uint8_t *dst, uint32_t dst_len,
                          uint32_t *desc, uint32_t count, uint8_t *scratch, uint32_t scratch_len);

enum { EXPECTED_ABI = 3, D_WORDS = 10, D_STATUS = 6 };

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
