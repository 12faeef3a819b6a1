/*
 * A whole-file unpack's block pipeline on threads of its own, in one call (src/threads/
 * native_unpack.ts calls it through a nonblocking FFI call). Each thread takes the next block of
 * the plan, reads its stored bytes with pread, decodes its chunks with the batch kernel (which
 * checks every chunk's XXH32), copies tile rows and literal bytes into place and writes the block
 * at its offset with pwrite; whichever thread finds the next block in file order decoded feeds it
 * to the whole-file SHA-256, so hashing needs no thread of its own and no block crosses to the
 * JavaScript thread. Output buffers are a ring of reused slots, so memory stays bounded however
 * large the file.
 *
 * Why: the same pipeline driven block by block from JavaScript (one FFI call per read, decode,
 * write and hash) ran at 0.47x of `zstd -d -T1` on a 338 MB model, most of the gap being trips
 * through the main thread, which a loaded machine deschedules (docs/ARCHITECTURE.md).
 *
 * The kernel leaves chunks with a zstd plane (it is also built for the browser, without libzstd):
 * they are inflated here with the system's libzstd and decoded again (decode_zstd below). A block
 * with a chunk still left (corrupt, or no libzstd), or that the caller marks as its own (variants,
 * stored-byte checks), is handed to the caller's
 * callback with its stored bytes and buffer while the other threads go on: the TypeScript decoder
 * produces it, or names its error, so errors come from one place. A failed read or write stops the
 * run at that block, and the caller's own I/O retries it and reports the error. The same pipeline
 * also streams a server's response body (tsr_unpack_stream): the blocks go in order onto a socket
 * instead of to their offsets, and nothing is hashed. Not part of the WebAssembly build: it needs
 * threads and files.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

uint32_t tsr_decode_batch(const uint8_t *stored, uint32_t stored_len, uint8_t *dst,
                          uint32_t dst_len, uint32_t *desc, uint32_t count, uint8_t *scratch,
                          uint32_t scratch_len);
void tsr_sha256_update(void *state, const uint8_t *p, uint64_t n);

/* Doubles per block of the block table; mirrored in src/threads/native_unpack.ts. */
enum {
  B_OUT = 0,    /* file offset of the block's output */
  B_LENGTH,     /* output bytes */
  B_BUFFER,     /* buffer bytes: the output, then room where tiles decode before their rows move */
  B_JOB,        /* first chunk (row of the piece table, D_WORDS u32 each; stored offsets are
                   relative to the block's runs read back to back) */
  B_JOBS,       /* chunks */
  B_RUN,        /* first stored run (two doubles each: container start, end) */
  B_RUNS,       /* runs */
  B_LITERAL,    /* first literal (three doubles each: buffer offset, offset in `blob`, length) */
  B_LITERALS,   /* literals */
  B_COPY,       /* first row copy (C_WORDS doubles each), applied in order after the chunks */
  B_COPIES,     /* row copies */
  B_SCRATCH,    /* the largest raw length of its chunks: the kernel's scratch */
  B_STORED,     /* stored bytes of its runs */
  B_HOST,       /* non-zero: the caller produces this block */
  B_TOOK,       /* out: seconds the thread spent producing it (reading, decoding, copying) */
  B_WORDS
};
/* Doubles per row copy, as src/container/plan.ts's RowCopy. */
enum { C_SRC = 0, C_SRC_STRIDE, C_ROWS, C_BYTES, C_DST, C_DST_STRIDE, C_CLIP_FROM, C_CLIP_TO, C_WORDS };
/* Words of the control array shared with the caller (Int32). */
enum {
  K_CANCEL = 0, /* in: set non-zero (any time) to stop at the next block */
  K_HASHED,     /* out: blocks of this call hashed so far (progress; read while the call runs) */
  K_BLOCK,      /* out: the block the result is about */
  K_ERRNO,      /* out: errno of a failed read or write */
  K_WORDS
};
/* Results; mirrored in src/threads/native_unpack.ts. */
enum {
  R_DONE = 0,      /* every block produced, written and hashed */
  R_HOST = 1,      /* blocks before K_BLOCK hashed; the caller produces K_BLOCK */
  R_READ = 2,      /* reading K_BLOCK's stored bytes failed (K_ERRNO) */
  R_SHORT = 3,     /* the container file ended before K_BLOCK's stored bytes */
  R_WRITE = 4,     /* writing K_BLOCK failed (K_ERRNO) */
  R_CANCELLED = 5, /* K_CANCEL was set; blocks before K_BLOCK are hashed */
  R_MEMORY = 6,    /* no memory for K_BLOCK's buffers */
};
enum { D_STORED = 0, D_STORED_LEN, D_DST, D_RAW_LEN, D_LAYOUT, D_XXH32, D_STATUS, D_ROW_BYTES,
       D_WORDS = 10 };
/* Chunk statuses and plane codecs, as native/tsr_kernel.c's. */
enum { ST_OK = 0, ST_FALLBACK = 1, ST_FAILED = 2 };
enum { CODEC_RAW = 0, CODEC_ZSTD = 3 };
/* Output slots per thread: one decoding, one written or waiting for its turn to hash. */
enum { SLOTS_PER_THREAD = 2, MAX_THREADS = 16 };

typedef struct {
  uint8_t *out;
  size_t cap;
  int64_t ready; /* the block it holds once produced and written; -1 while none */
} Slot;

typedef struct {
  uint8_t *stored, *scratch, *inflated;
  size_t stored_cap, scratch_cap, inflated_cap;
  void *zstd; /* this thread's ZSTD_DCtx, made on its first zstd plane */
} Scratch;

/* What one unpack keeps across its calls: the buffers, which fault in once. */
typedef struct {
  uint32_t threads, nslots;
  Slot *slots;
  Scratch *scratch; /* one per thread */
} Context;

/* The caller's producer of a block the kernel leaves: given the block, its stored bytes (its runs
   back to back) and its buffer, it fills the buffer; returns 0 when it failed (the caller keeps
   the error). Called from any of the threads, each waiting for its answer. */
typedef uint32_t (*HostFn)(uint32_t block, const uint8_t *stored, uint8_t *out);

typedef struct {
  int in_fd, out_fd;
  int stream; /* out_fd is a stream socket: blocks are sent in order, where they are hashed */
  HostFn host;
  uint32_t first; /* the caller's number of block 0 of `blocks` */
  double *blocks;
  const double *runs, *literals, *copies;
  uint32_t *jobs;
  const uint8_t *blob;
  void *sha;
  int32_t *ctl;
  uint32_t count;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint32_t next;    /* next block to take */
  uint32_t hashed;  /* blocks hashed */
  int hashing;      /* a thread is hashing (outside the lock) */
  uint32_t stop_at; /* the first block not to hash: `count`, or the block of `result` */
  int result, err;
  Slot *slots;
  uint32_t nslots;
  Scratch *scratch;
  uint32_t started; /* threads that took their scratch */
} Run;

/* Buffers are whole 2 MiB pages, asked for as transparent huge pages: one fault instead of 512
   (20-40 us each on this VM). 338 MB whole-process unpacks: 9,900 page faults with the advice,
   13,300 without. */
#define HUGE ((size_t)2 << 20)

/* Frees a buffer of reserve(). */
static void release(uint8_t *p, size_t cap) {
  if (p) munmap(p, cap);
}

/* Grows `*p` to at least `n` bytes (contents not kept); 0 when out of memory. Buffers are reused
   by every call of an unpack, so that each page faults in once. They are mapped, not malloc'd:
   freed, their memory goes back to the system at once. From malloc (posix_memalign), a server
   that ran a context per response grew by 5.5 MB per 338 MB GET, 130 MB over 24 GETs: glibc kept
   the freed 2 MiB-aligned blocks in the arenas of the threads, new ones for each call. */
static int reserve(uint8_t **p, size_t *cap, size_t n) {
  if (*cap >= n) return 1;
  size_t want = (n + HUGE - 1) / HUGE * HUGE;
  release(*p, *cap);
  *p = 0, *cap = 0;
  /* Mapped one huge page larger, then trimmed to a 2 MiB-aligned span. */
  uint8_t *m = mmap(0, want + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return 0;
  size_t head = (HUGE - (uintptr_t)m % HUGE) % HUGE;
  if (head) munmap(m, head);
  munmap(m + head + want, HUGE - head);
  *p = m + head;
#ifdef MADV_HUGEPAGE
  madvise(*p, want, MADV_HUGEPAGE); /* advice only: without it, small pages */
#endif
  *cap = want;
  return 1;
}

/* Records that block `k` stopped the run with `result`; the lowest block wins. Call locked. */
static void stop(Run *r, uint32_t k, int result, int err) {
  if (k < r->stop_at) r->stop_at = k, r->result = result, r->err = err;
  pthread_cond_broadcast(&r->cv);
}

/* Copies the rows of `c` from `buf` into `buf`, only output bytes [clipFrom, clipTo). */
static void copy_rows(uint8_t *buf, const double *c) {
  int64_t s = (int64_t)c[C_SRC], d = (int64_t)c[C_DST];
  int64_t rows = (int64_t)c[C_ROWS], bytes = (int64_t)c[C_BYTES];
  int64_t from = (int64_t)c[C_CLIP_FROM], to = (int64_t)c[C_CLIP_TO];
  for (int64_t i = 0; i < rows; i++, s += (int64_t)c[C_SRC_STRIDE], d += (int64_t)c[C_DST_STRIDE]) {
    int64_t a = d > from ? d : from, b = d + bytes < to ? d + bytes : to;
    if (a < b) memmove(buf + a, buf + s + (a - d), (size_t)(b - a));
  }
}

/* Reads all of `into[0, n)` from the container at `at`; a result, R_DONE when it all came. */
static int read_all(int fd, uint8_t *into, size_t n, uint64_t at, int *err) {
  while (n > 0) {
    ssize_t got = pread(fd, into, n, (off_t)at);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return *err = errno, R_READ;
    if (got == 0) return R_SHORT;
    into += got, n -= (size_t)got, at += (uint64_t)got;
  }
  return R_DONE;
}

static int write_all(int fd, const uint8_t *from, size_t n, uint64_t at, int *err) {
  while (n > 0) {
    ssize_t put = pwrite(fd, from, n, (off_t)at);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return *err = put < 0 ? errno : EIO, R_WRITE;
    from += put, n -= (size_t)put, at += (uint64_t)put;
  }
  return R_DONE;
}

/*
 * Zstandard planes, decoded here rather than handed to the caller: the batch kernel (also built
 * for the browser, without libzstd) leaves a chunk with a zstd plane (ST_FALLBACK), and a block
 * handed to the JavaScript thread waits 2-23 ms for it on a loaded machine while the file's hash
 * waits for that block (`best` packs 35 such blocks into the 338 MB model). The system's libzstd
 * is opened with dlopen (no headers or link-time dependency); without it, such blocks go to the
 * caller as before. A chunk is rewritten with each zstd plane inflated into a raw plane and decoded
 * again by the kernel, which checks its XXH32 as for every chunk; anything unexpected (a frame
 * without its content size, a size that does not add up, a libzstd error) leaves the chunk to the
 * caller, whose decoder then names the error.
 */
typedef size_t (*ZstdDecompressDCtx)(void *, void *, size_t, const void *, size_t);
typedef unsigned long long (*ZstdFrameContentSize)(const void *, size_t);
typedef size_t (*ZstdFindFrame)(const void *, size_t);
typedef unsigned (*ZstdIsError)(size_t);
static struct {
  void *(*create)(void);
  size_t (*free)(void *);
  ZstdDecompressDCtx decompress;
  ZstdFrameContentSize content_size;
  ZstdFindFrame frame_size;
  ZstdIsError is_error;
} zstd;
static pthread_once_t zstd_once = PTHREAD_ONCE_INIT;
static int zstd_disabled; /* tsr_unpack_zstd(0): tests of the hand-back path */

static void zstd_open(void) {
  void *h = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libzstd.1.dylib", RTLD_NOW | RTLD_LOCAL);
  if (!h) return;
  *(void **)&zstd.free = dlsym(h, "ZSTD_freeDCtx");
  *(void **)&zstd.decompress = dlsym(h, "ZSTD_decompressDCtx");
  *(void **)&zstd.content_size = dlsym(h, "ZSTD_getFrameContentSize");
  *(void **)&zstd.frame_size = dlsym(h, "ZSTD_findFrameCompressedSize");
  *(void **)&zstd.is_error = dlsym(h, "ZSTD_isError");
  void *create = dlsym(h, "ZSTD_createDCtx");
  /* Usable only whole; the library stays open for the process. */
  if (zstd.free && zstd.decompress && zstd.content_size && zstd.frame_size && zstd.is_error) {
    *(void **)&zstd.create = create;
  }
}

/* Whether this process decodes zstd planes here (libzstd found), after `enable` (0: never, for
   tests of the hand-back path; 1: when libzstd is found). */
uint32_t tsr_unpack_zstd(uint32_t enable) {
  pthread_once(&zstd_once, zstd_open);
  __atomic_store_n(&zstd_disabled, enable ? 0 : 1, __ATOMIC_RELAXED);
  return zstd.create != 0 && enable;
}

/* Inflates `src` (whole frames, each declaring its size, n bytes in all) into `dst`; 1 when it
   did, exactly as the caller's decoder would accept it. */
static int inflate_plane(void *dctx, const uint8_t *src, size_t len, uint8_t *dst, size_t n) {
  size_t declared = 0;
  for (size_t p = 0; p < len;) {
    /* Whole zstd frames only (magic FD2FB528): no skippable frames, no debris. */
    if (len - p < 9 || src[p] != 0x28 || src[p + 1] != 0xb5 || src[p + 2] != 0x2f ||
        src[p + 3] != 0xfd) {
      return 0;
    }
    unsigned long long size = zstd.content_size(src + p, len - p);
    size_t frame = zstd.frame_size(src + p, len - p);
    if (size >= (1ull << 62) || zstd.is_error(frame) || frame == 0 || frame > len - p) return 0;
    declared += (size_t)size;
    if (declared > n) return 0;
    p += frame;
  }
  if (declared != n || len == 0) return 0;
  size_t got = zstd.decompress(dctx, dst, n, src, len);
  return !zstd.is_error(got) && got == n;
}

/* Decodes again the chunks of a block's batch that the kernel left for their zstd planes (status
   ST_FALLBACK), each rewritten with raw planes in `s->inflated`; their statuses in `jobs` say what
   came of it. Returns how many chunks still did not end ST_OK. */
static uint32_t decode_zstd(Scratch *s, uint32_t stored_len, uint8_t *out, uint32_t buffer,
                            uint32_t *jobs, uint32_t count) {
  uint32_t bad = 0;
  for (uint32_t k = 0; k < count; k++) {
    uint32_t *d = jobs + (size_t)k * D_WORDS;
    if (d[D_STATUS] == ST_OK) continue;
    bad++;
    if (d[D_STATUS] != ST_FALLBACK || zstd.create == 0 ||
        __atomic_load_n(&zstd_disabled, __ATOMIC_RELAXED)) {
      continue;
    }
    uint64_t so = d[D_STORED], sl = d[D_STORED_LEN], raw = d[D_RAW_LEN];
    uint32_t width = d[D_LAYOUT] & 0xff;
    if ((d[D_LAYOUT] >> 9) & 1) width = 1; /* packed: one plane of the tile's bytes */
    if ((d[D_LAYOUT] >> 10) != 0 || so + sl > stored_len || width < 1 || width > 8 ||
        raw % width) {
      continue;
    }
    const uint8_t *c = s->stored + so;
    uint64_t n = raw / width, head = 1 + 5 * (uint64_t)width, pos = head, size = head;
    if (sl < head || c[0] != width) continue;
    uint32_t zstd_planes = 0, ok = 1;
    for (uint32_t p = 0; p < width && ok; p++) {
      uint32_t codec, plen;
      codec = c[1 + 5 * p];
      memcpy(&plen, c + 2 + 5 * p, 4);
      if (plen > sl - pos) ok = 0;
      pos += plen;
      zstd_planes += codec == CODEC_ZSTD;
      size += codec == CODEC_ZSTD ? n : plen;
    }
    if (!ok || pos != sl || zstd_planes == 0 || size > UINT32_MAX) continue;
    if (!s->zstd && !(s->zstd = zstd.create())) continue;
    if (!reserve(&s->inflated, &s->inflated_cap, size)) continue;
    /* The chunk again, each zstd plane replaced by its raw bytes. */
    uint8_t *w = s->inflated;
    memcpy(w, c, head);
    uint64_t from = head, to = head;
    for (uint32_t p = 0; p < width && ok; p++) {
      uint32_t plen;
      memcpy(&plen, c + 2 + 5 * p, 4);
      if (c[1 + 5 * p] == CODEC_ZSTD) {
        uint32_t n32 = (uint32_t)n;
        ok = inflate_plane(s->zstd, c + from, plen, w + to, n);
        w[1 + 5 * p] = CODEC_RAW;
        memcpy(w + 2 + 5 * p, &n32, 4);
        to += n;
      } else {
        memcpy(w + to, c + from, plen);
        to += plen;
      }
      from += plen;
    }
    if (!ok) continue;
    uint32_t again[D_WORDS];
    memcpy(again, d, sizeof again);
    again[D_STORED] = 0, again[D_STORED_LEN] = (uint32_t)size;
    if (tsr_decode_batch(s->inflated, (uint32_t)size, out, buffer, again, 1, s->scratch,
                         (uint32_t)s->scratch_cap) == 0) {
      d[D_STATUS] = ST_OK;
      bad--;
    } /* else it stays ST_FALLBACK, as the caller saw it before: its decoder says what is wrong */
  }
  return bad;
}

/* Seconds on the monotonic clock. */
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Whether the caller asked the call to stop (ctl[K_CANCEL]). */
static int cancelled(const int32_t *ctl) {
  return __atomic_load_n(&ctl[K_CANCEL], __ATOMIC_RELAXED) != 0;
}

/* Waits up to `ms` for `events` on `fd`, in slices of 50 ms that look at ctl[K_CANCEL]; 1 when
   ready, 0 on cancel or timeout. */
static int wait_for(int fd, short events, int ms, const int32_t *ctl) {
  for (int waited = 0; waited < ms; waited += 50) {
    if (cancelled(ctl)) return 0;
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, 50);
    if (n > 0) return 1;
    if (n < 0 && errno != EINTR) return 0;
  }
  return 0;
}

/*
 * Sends all of `from[0, n)` on the stream socket `fd` (nonblocking: its reader is the runtime,
 * which passes the bytes on as a response body), waiting for room in slices of 50 ms so that
 * ctl[K_CANCEL] stops it while the reader does not read; a result, R_DONE when it all went. A
 * reader gone (EPIPE: the client went away) is R_WRITE with that errno.
 */
static int send_all(int fd, const uint8_t *from, size_t n, const int32_t *ctl, int *err) {
  while (n > 0) {
    ssize_t put = send(fd, from, n, MSG_NOSIGNAL);
    if (put > 0) {
      from += put, n -= (size_t)put;
      continue;
    }
    if (put < 0 && errno == EINTR) continue;
    if (put < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (cancelled(ctl)) return R_CANCELLED;
      wait_for(fd, POLLOUT, 50, ctl); /* one slice: the reader may never read */
      continue;
    }
    return *err = put < 0 ? errno : EIO, R_WRITE;
  }
  return R_DONE;
}

/* Produces block `k` into `slot` and, unless streaming, writes it at its offset; a result, R_DONE
   when it is ready to hash (and, streaming, to send). */
static int produce(Run *r, uint32_t k, Slot *slot, Scratch *s, int *err) {
  double started = now();
  double *b = r->blocks + (size_t)k * B_WORDS;
  size_t length = (size_t)b[B_LENGTH], buffer = (size_t)b[B_BUFFER];
  size_t stored = (size_t)b[B_STORED], scratch = (size_t)b[B_SCRATCH];
  if (!reserve(&slot->out, &slot->cap, buffer) || !reserve(&s->stored, &s->stored_cap, stored) ||
      !reserve(&s->scratch, &s->scratch_cap, scratch)) {
    return R_MEMORY;
  }
  size_t pos = 0;
  for (uint32_t i = 0; i < (uint32_t)b[B_RUNS]; i++) {
    const double *run = r->runs + 2 * ((size_t)b[B_RUN] + i);
    size_t n = (size_t)(run[1] - run[0]);
    int got = read_all(r->in_fd, s->stored + pos, n, (uint64_t)run[0], err);
    if (got != R_DONE) return got;
    pos += n;
  }
  for (uint32_t i = 0; i < (uint32_t)b[B_LITERALS]; i++) {
    const double *l = r->literals + 3 * ((size_t)b[B_LITERAL] + i);
    memcpy(slot->out + (size_t)l[0], r->blob + (size_t)l[1], (size_t)l[2]);
  }
  uint32_t jobs = (uint32_t)b[B_JOBS], *job = r->jobs + (size_t)b[B_JOB] * D_WORDS;
  int host = b[B_HOST] != 0 ||
             (jobs > 0 && tsr_decode_batch(s->stored, (uint32_t)stored, slot->out, (uint32_t)buffer,
                                           job, jobs, s->scratch, (uint32_t)s->scratch_cap) != 0 &&
              decode_zstd(s, (uint32_t)stored, slot->out, (uint32_t)buffer, job, jobs) != 0);
  if (host) {
    /* Left to the TypeScript codec, or corrupt (it then says how): the caller does all of it. */
    if (!r->host || !r->host(r->first + k, s->stored, slot->out)) return R_HOST;
  } else {
    for (uint32_t i = 0; i < (uint32_t)b[B_COPIES]; i++) {
      copy_rows(slot->out, r->copies + C_WORDS * ((size_t)b[B_COPY] + i));
    }
  }
  b[B_TOOK] = now() - started;
  if (r->stream) return R_DONE;
  return write_all(r->out_fd, slot->out, length, (uint64_t)b[B_OUT], err);
}

/* Hashes (and, streaming, sends) every block ready in turn, unless another thread is at it. Call
   locked. */
static void hash_ready(Run *r) {
  while (!r->hashing && r->hashed < r->stop_at) {
    Slot *slot = &r->slots[r->hashed % r->nslots];
    if (slot->ready != (int64_t)r->hashed) return;
    r->hashing = 1;
    pthread_mutex_unlock(&r->mu);
    const double *b = r->blocks + (size_t)r->hashed * B_WORDS;
    if (r->sha) tsr_sha256_update(r->sha, slot->out, (uint64_t)b[B_LENGTH]);
    int err = 0, sent = r->stream ? send_all(r->out_fd, slot->out, (size_t)b[B_LENGTH], r->ctl, &err)
                                  : R_DONE;
    pthread_mutex_lock(&r->mu);
    if (sent != R_DONE) {
      /* Not sent: this block stops the run, as a failed write of it would. */
      r->hashing = 0;
      stop(r, r->hashed, sent, err);
      return;
    }
    slot->ready = -1;
    r->hashed++;
    r->hashing = 0;
    __atomic_store_n(&r->ctl[K_HASHED], (int32_t)r->hashed, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&r->cv);
  }
}

static void *work(void *arg) {
  Run *r = arg;
  pthread_mutex_lock(&r->mu);
  Scratch *s = &r->scratch[r->started++];
  for (;;) {
    if (cancelled(r->ctl)) {
      stop(r, r->next, R_CANCELLED, 0);
    }
    if (r->next >= r->stop_at) break;
    /* The slot of the next block is free once the block `nslots` before it is hashed. */
    if (r->next >= r->hashed + r->nslots) {
      pthread_cond_wait(&r->cv, &r->mu);
      continue;
    }
    uint32_t k = r->next++;
    Slot *slot = &r->slots[k % r->nslots];
    pthread_mutex_unlock(&r->mu);
    int err = 0, result = produce(r, k, slot, s, &err);
    pthread_mutex_lock(&r->mu);
    if (result != R_DONE) {
      stop(r, k, result, err);
      continue;
    }
    slot->ready = k;
    hash_ready(r);
  }
  pthread_mutex_unlock(&r->mu);
  return 0;
}

/*
 * A context for the calls of one unpack on `threads` threads; NULL when out of memory. Its
 * buffers grow to the largest block and are reused by every call until tsr_unpack_close.
 */
void *tsr_unpack_open(uint32_t threads) {
  pthread_once(&zstd_once, zstd_open);
  if (threads < 1) threads = 1;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  Context *c = calloc(1, sizeof(Context));
  if (!c) return 0;
  c->threads = threads, c->nslots = threads * SLOTS_PER_THREAD;
  c->slots = calloc(c->nslots, sizeof(Slot));
  c->scratch = calloc(threads, sizeof(Scratch));
  if (!c->slots || !c->scratch) {
    free(c->slots), free(c->scratch), free(c);
    return 0;
  }
  return c;
}

/* Frees a context of tsr_unpack_open; NULL is ignored. */
void tsr_unpack_close(void *context) {
  Context *c = context;
  if (!c) return;
  for (uint32_t i = 0; i < c->nslots; i++) release(c->slots[i].out, c->slots[i].cap);
  for (uint32_t i = 0; i < c->threads; i++) {
    Scratch *s = &c->scratch[i];
    release(s->stored, s->stored_cap), release(s->scratch, s->scratch_cap);
    release(s->inflated, s->inflated_cap);
    if (c->scratch[i].zstd) zstd.free(c->scratch[i].zstd);
  }
  free(c->slots), free(c->scratch), free(c);
}

/* The run of tsr_unpack_run and tsr_unpack_stream. */
static int32_t run_blocks(void *context, int32_t in_fd, int32_t out_fd, int stream, double *blocks,
                          uint32_t first, uint32_t count, const double *runs, uint32_t *jobs,
                          const double *literals, const uint8_t *blob, const double *copies,
                          HostFn host, void *sha, int32_t *ctl) {
  Context *c = context;
  Run r = {.in_fd = in_fd, .out_fd = out_fd, .stream = stream, .host = host, .first = first, .blocks = blocks, .runs = runs, .literals = literals,
           .copies = copies, .jobs = jobs, .blob = blob, .sha = sha, .ctl = ctl, .count = count,
           .stop_at = count, .result = R_DONE, .slots = c->slots, .nslots = c->nslots,
           .scratch = c->scratch};
  ctl[K_HASHED] = 0, ctl[K_BLOCK] = 0, ctl[K_ERRNO] = 0;
  for (uint32_t i = 0; i < r.nslots; i++) r.slots[i].ready = -1;
  pthread_mutex_init(&r.mu, 0);
  pthread_cond_init(&r.cv, 0);
  pthread_t helpers[MAX_THREADS];
  uint32_t started = 0;
  /* A thread that will not start only makes the run narrower. */
  while (started + 1 < c->threads && pthread_create(&helpers[started], 0, work, &r) == 0) started++;
  work(&r);
  for (uint32_t i = 0; i < started; i++) pthread_join(helpers[i], 0);
  pthread_mutex_destroy(&r.mu);
  pthread_cond_destroy(&r.cv);
  ctl[K_HASHED] = (int32_t)r.hashed;
  ctl[K_BLOCK] = (int32_t)r.stop_at;
  ctl[K_ERRNO] = r.err;
  return r.result;
}

/*
 * Produces, writes and hashes blocks [0, count) of the block table on the context's threads (this
 * one and the others it starts), feeding `sha` (a tsr_sha256_state) in block order; `host`
 * (called with `first` + the block) produces the blocks the kernel leaves. Returns an R_* result,
 * with `ctl` saying which block it is about; on any result but R_DONE, exactly the blocks before
 * ctl[K_BLOCK] are hashed (some after it may be written: the caller writes them again).
 * One call at a time per context.
 */
int32_t tsr_unpack_run(void *context, int32_t in_fd, int32_t out_fd, double *blocks,
                       uint32_t first, uint32_t count, const double *runs, uint32_t *jobs,
                       const double *literals, const uint8_t *blob, const double *copies,
                       HostFn host, void *sha, int32_t *ctl) {
  return run_blocks(context, in_fd, out_fd, 0, blocks, first, count, runs, jobs, literals, blob,
                    copies, host, sha, ctl);
}

/*
 * As tsr_unpack_run, but the blocks go in order onto the stream socket `out_fd` (from
 * tsr_stream_accept) instead of to offsets of a file, and nothing is hashed (a server's response
 * body: every chunk's XXH32 is still checked). On any result but R_DONE the blocks before
 * ctl[K_BLOCK] were sent whole, and perhaps part of it; R_WRITE with ctl[K_ERRNO] EPIPE: the reader
 * went away. Why: a response body that never passes through JavaScript (src/server/native_body.ts).
 */
int32_t tsr_unpack_stream(void *context, int32_t in_fd, int32_t out_fd, double *blocks,
                          uint32_t first, uint32_t count, const double *runs, uint32_t *jobs,
                          const double *literals, const uint8_t *blob, const double *copies,
                          HostFn host, int32_t *ctl) {
  return run_blocks(context, in_fd, out_fd, 1, blocks, first, count, runs, jobs, literals, blob,
                    copies, host, 0, ctl);
}

/*
 * A listening Unix socket at `path` (a NUL-terminated path in a folder of the caller's own), close-
 * on-exec and nonblocking, for one connection: the descriptor, or -errno.
 */
int32_t tsr_stream_listen(const char *path) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) return -ENAMETOOLONG;
  strcpy(a.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1) != 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

/* Send buffer asked for on a body's socket. */
#ifndef SEND_BUFFER
#define SEND_BUFFER (2 << 20)
#endif

/* Longest request head read from the connection. */
#define REQUEST_BYTES 16384

/*
 * Accepts the one connection of `listener` (then closes it), reads an HTTP/1.1 request head from
 * it and answers `head[0, n)` (a response head): the connection's descriptor (nonblocking), on
 * which the caller streams the body with tsr_unpack_stream; or -errno (ETIMEDOUT after `ms`, or
 * ECANCELED when ctl[K_CANCEL] was set). Why HTTP: the runtime streams a fetch response's body
 * into a server response without passing it through JavaScript, reading the socket on its own
 * event loop, where a pipe opened as a file costs a thread hand-off per 64 KiB read.
 */
int32_t tsr_stream_accept(int32_t listener, const uint8_t *head, uint32_t n, int32_t ms,
                          int32_t *ctl) {
  int fd = -1, err = ETIMEDOUT;
  if (wait_for(listener, POLLIN, ms, ctl)) {
    fd = accept4(listener, 0, 0, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) err = errno;
  }
  close(listener);
  if (fd < 0) return cancelled(ctl) ? -ECANCELED : -err;
  int sndbuf = SEND_BUFFER;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf); /* advice: capped by wmem_max */
  char req[REQUEST_BYTES];
  size_t got = 0;
  for (;;) {
    ssize_t r = recv(fd, req + got, sizeof req - got, 0);
    if (r > 0) {
      got += (size_t)r;
      if (memmem(req, got, "\r\n\r\n", 4)) break;
      if (got == sizeof req) return close(fd), -EMSGSIZE;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd, POLLIN, ms, ctl)) {
      continue;
    }
    err = r == 0 ? ECONNRESET : errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
    return close(fd), -err;
  }
  int sent_err = 0;
  if (send_all(fd, head, n, ctl, &sent_err) != R_DONE) {
    close(fd);
    return sent_err ? -sent_err : -ECANCELED;
  }
  return fd;
}

/* Sends all of `from[0, n)` to the stream `fd` as tsr_unpack_stream does (the caller's own block);
   an R_* result, errno in ctl[K_ERRNO]. */
int32_t tsr_stream_write(int32_t fd, const uint8_t *from, double n, int32_t *ctl) {
  int err = 0, result = send_all(fd, from, (size_t)n, ctl, &err);
  ctl[K_ERRNO] = err;
  return result;
}
