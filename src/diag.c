/* Diagnostics: one handler for every message rpctrace prints, and
 * report-once bookkeeping so a bad setting is not repeated. Also the clock. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define DIAG_MSG_MAX 1024
#define DIAG_ONCE_KEYS 128
#define DIAG_ONCE_KEY_LEN 64

/* The handler pair is replaced as a whole under diag_lock; readers copy it
 * under the same lock, then call it unlocked. */
static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;
static rpct_diag_fn diag_fn;  /* NULL: stderr; written under diag_lock */
static void *diag_data;       /* written under diag_lock */

/* Keys already reported by rpct__diag_once; written under diag_lock. */
static char once_keys[DIAG_ONCE_KEYS][DIAG_ONCE_KEY_LEN];
static size_t once_count;

void rpct_set_diag_handler(rpct_diag_fn fn, void *data) {
  pthread_mutex_lock(&diag_lock);
  diag_fn = fn;
  diag_data = data;
  pthread_mutex_unlock(&diag_lock);
}

static void diag_emit(const char *fmt, va_list ap) RPCT__PRINTF(1, 0);
static void diag_emit(const char *fmt, va_list ap) {
  char msg[DIAG_MSG_MAX];
  vsnprintf(msg, sizeof msg, fmt, ap);
  pthread_mutex_lock(&diag_lock);
  rpct_diag_fn fn = diag_fn;
  void *data = diag_data;
  pthread_mutex_unlock(&diag_lock);
  if (fn)
    fn(data, msg);
  else
    fprintf(stderr, "rpctrace: %s\n", msg);
}

void rpct__diag(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_emit(fmt, ap);
  va_end(ap);
}

bool rpct__diag_once(const char *key, const char *fmt, ...) {
  bool seen = false;
  pthread_mutex_lock(&diag_lock);
  for (size_t i = 0; i < once_count && !seen; i++)
    seen = strncmp(once_keys[i], key, DIAG_ONCE_KEY_LEN - 1) == 0;
  if (!seen && once_count < DIAG_ONCE_KEYS) {
    snprintf(once_keys[once_count], DIAG_ONCE_KEY_LEN, "%s", key);
    once_count++;
  }
  pthread_mutex_unlock(&diag_lock);
  if (seen) return false;
  va_list ap;
  va_start(ap, fmt);
  diag_emit(fmt, ap);
  va_end(ap);
  return true;
}

void rpct__diag_reset_once(void) {
  pthread_mutex_lock(&diag_lock);
  once_count = 0;
  pthread_mutex_unlock(&diag_lock);
}

uint64_t rpct_now_unix_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t rpct__now_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
