/*
 * Trace and span ids: a xoshiro256** generator per thread, seeded from the
 * OS once per thread (and again in a child after fork(), so parent and
 * child never produce the same ids). No lock, no syscall on the fast path.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

typedef struct id_rng {
  uint64_t s[4];
  unsigned generation; /* fork_generation when seeded; 0: never seeded */
} id_rng;

static RPCT__TLS id_rng tls_rng;

/* Bumped in every child after fork(); starts at 1 so a zeroed id_rng is
 * always stale. Written by the atfork handler, read by every thread. */
static atomic_uint fork_generation = 1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) { atomic_fetch_add(&fork_generation, 1); }
static void register_atfork(void) { pthread_atfork(NULL, NULL, on_fork_child); }

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static void rng_seed(id_rng *r, unsigned generation) {
  uint64_t seed[4] = {0};
  ssize_t got = getrandom(seed, sizeof seed, GRND_NONBLOCK);
  if (got != (ssize_t)sizeof seed) {
    /* No entropy from the kernel (very early boot, seccomp): mix what
     * differs between processes and threads. Ids stay unique in practice,
     * not unpredictable. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid() ^
                 (uint64_t)(uintptr_t)r;
    for (int i = 0; i < 4; i++) seed[i] ^= splitmix64(&x);
  }
  uint64_t x = seed[0] ^ seed[1] ^ seed[2] ^ seed[3];
  for (int i = 0; i < 4; i++) r->s[i] = seed[i] ? seed[i] : splitmix64(&x);
  r->generation = generation;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(void) {
  id_rng *r = &tls_rng;
  unsigned gen = atomic_load_explicit(&fork_generation, memory_order_relaxed);
  if (RPCT__UNLIKELY(r->generation != gen)) {
    pthread_once(&atfork_once, register_atfork);
    rng_seed(r, gen);
  }
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

void rpct_trace_id_generate(rpct_trace_id *out) {
  do {
    uint64_t a = rng_next(), b = rng_next();
    memcpy(out->bytes, &a, 8);
    memcpy(out->bytes + 8, &b, 8);
  } while (!rpct_trace_id_is_valid(out));
}

void rpct_span_id_generate(rpct_span_id *out) {
  do {
    uint64_t a = rng_next();
    memcpy(out->bytes, &a, 8);
  } while (!rpct_span_id_is_valid(out));
}

static bool any_nonzero(const uint8_t *b, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++) acc |= b[i];
  return acc != 0;
}

bool rpct_trace_id_is_valid(const rpct_trace_id *id) { return id && any_nonzero(id->bytes, 16); }
bool rpct_span_id_is_valid(const rpct_span_id *id) { return id && any_nonzero(id->bytes, 8); }


/* Both digits of every byte, so encoding is one load and one 2-byte store
 * per byte (traceparent is formatted on every traced call). */
#define HX2(b) {"0123456789abcdef"[(b) >> 4], "0123456789abcdef"[(b)&0xf]}
#define HX16(r) HX2(r), HX2(r + 1), HX2(r + 2), HX2(r + 3), HX2(r + 4), HX2(r + 5), HX2(r + 6), \
    HX2(r + 7), HX2(r + 8), HX2(r + 9), HX2(r + 10), HX2(r + 11), HX2(r + 12), HX2(r + 13), \
    HX2(r + 14), HX2(r + 15)
static const char hex_pairs[256][2] = {
    HX16(0x00), HX16(0x10), HX16(0x20), HX16(0x30), HX16(0x40), HX16(0x50), HX16(0x60), HX16(0x70),
    HX16(0x80), HX16(0x90), HX16(0xa0), HX16(0xb0), HX16(0xc0), HX16(0xd0), HX16(0xe0), HX16(0xf0)};

void rpct__hex_encode(const uint8_t *in, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) memcpy(out + 2 * i, hex_pairs[in[i]], 2);
}

/* The value of each character as a lowercase hex digit, -1 for any other
 * (uppercase is not W3C hex). Parsed on every inbound traced call. */
#define HV(c) ((c) >= '0' && (c) <= '9' ? (c) - '0' : (c) >= 'a' && (c) <= 'f' ? (c) - 'a' + 10 : -1)
#define HV16(r) HV(r), HV(r + 1), HV(r + 2), HV(r + 3), HV(r + 4), HV(r + 5), HV(r + 6), HV(r + 7), \
    HV(r + 8), HV(r + 9), HV(r + 10), HV(r + 11), HV(r + 12), HV(r + 13), HV(r + 14), HV(r + 15)
static const int8_t hex_values[256] = {
    HV16(0x00), HV16(0x10), HV16(0x20), HV16(0x30), HV16(0x40), HV16(0x50), HV16(0x60), HV16(0x70),
    HV16(0x80), HV16(0x90), HV16(0xa0), HV16(0xb0), HV16(0xc0), HV16(0xd0), HV16(0xe0), HV16(0xf0)};

bool rpct__hex_decode(const char *in, size_t n, uint8_t *out) {
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    int hi = hex_values[(unsigned char)in[2 * i]], lo = hex_values[(unsigned char)in[2 * i + 1]];
    bad |= hi | lo; /* negative when either is not a digit */
    out[i] = (uint8_t)((unsigned)hi << 4 | (unsigned)lo);
  }
  return bad >= 0;
}

static int id_format(const uint8_t *b, size_t n, char *buf, size_t size) {
  if (!buf || size < 2 * n + 1) return RPCT_ERR_NO_SPACE;
  rpct__hex_encode(b, n, buf);
  buf[2 * n] = '\0';
  return (int)(2 * n);
}

int rpct_trace_id_format(const rpct_trace_id *id, char *buf, size_t size) {
  if (!id) return RPCT_ERR_INVALID_ARGUMENT;
  return id_format(id->bytes, 16, buf, size);
}

int rpct_span_id_format(const rpct_span_id *id, char *buf, size_t size) {
  if (!id) return RPCT_ERR_INVALID_ARGUMENT;
  return id_format(id->bytes, 8, buf, size);
}

static int id_parse(const char *s, size_t len, uint8_t *out, size_t n) {
  uint8_t tmp[16];
  if (!s || len != 2 * n || !rpct__hex_decode(s, n, tmp)) return RPCT_ERR_PARSE;
  memcpy(out, tmp, n);
  return RPCT_OK;
}

int rpct_trace_id_parse(const char *s, size_t len, rpct_trace_id *out) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  return id_parse(s, len, out->bytes, 16);
}

int rpct_span_id_parse(const char *s, size_t len, rpct_span_id *out) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  return id_parse(s, len, out->bytes, 8);
}
