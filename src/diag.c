/* Diagnostics: one handler for every message rpctrace prints, and
 * report-once bookkeeping so a bad setting is not repeated; what may be
 * shown of text from outside (escapes, endpoints). Also the clock. */
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

/* ---- text shown to people ---- */

/* Length of the valid UTF-8 sequence at s[0..n) (n > 0) and its code point,
 * or 0 when s starts none (overlong forms, surrogates, past U+10FFFF, cut
 * short and stray continuation bytes all count as invalid). */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char b = s[0];
  if (b < 0x80) {
    *cp = b;
    return 1;
  }
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF; /* bounds of the second byte */
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  uint32_t c = b & (0x7Fu >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    c = (c << 6) | (s[i] & 0x3Fu);
  }
  *cp = c;
  return len;
}

/* Code points a terminal or log viewer acts on instead of showing: C0
 * controls and DEL (cursor moves, escape sequences, forged line breaks), C1
 * controls (U+009B is CSI by itself), and the Unicode bidirectional
 * formatting characters, which reorder the text after them on screen so a
 * span name can show something other than what it holds. */
static bool unsafe_code_point(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t rpct__escape_char(const char *s, size_t n, char esc[RPCT__ESCAPE_BUF], size_t *used) {
  static const char hex[] = "0123456789abcdef";
  uint32_t cp;
  size_t len = utf8_char((const unsigned char *)s, n, &cp);
  if (len == 0) {
    /* Not UTF-8: show the byte itself, never pass it on (a lone 0x9B is
     * CSI to a terminal in 8-bit mode). */
    unsigned char b = (unsigned char)s[0];
    *used = 1;
    return (size_t)snprintf(esc, RPCT__ESCAPE_BUF, "\\x%c%c", hex[b >> 4], hex[b & 0xF]);
  }
  *used = len;
  if (!unsafe_code_point(cp)) return 0;
  if (cp < 0x80)
    return (size_t)snprintf(esc, RPCT__ESCAPE_BUF, "\\x%c%c", hex[cp >> 4], hex[cp & 0xF]);
  return (size_t)snprintf(esc, RPCT__ESCAPE_BUF, "\\u%c%c%c%c", hex[(cp >> 12) & 0xF],
                          hex[(cp >> 8) & 0xF], hex[(cp >> 4) & 0xF], hex[cp & 0xF]);
}

/* Output of rpct__endpoint_shown: bounded, cut with "..." when full. */
typedef struct shown {
  char *out;
  size_t len, size;
  bool full;
} shown;

static void shown_put(shown *w, const char *s, size_t n) {
  if (w->full) return;
  if (n > w->size - 4 - w->len) { /* room for "..." and the NUL */
    memcpy(w->out + w->len, "...", 3);
    w->len += 3;
    w->full = true;
    return;
  }
  memcpy(w->out + w->len, s, n);
  w->len += n;
}

/* s[0..n) with every character rpct__escape_char escapes escaped. */
static void shown_text(shown *w, const char *s, size_t n) {
  char esc[RPCT__ESCAPE_BUF];
  for (size_t i = 0, used; i < n; i += used) {
    size_t e = rpct__escape_char(s + i, n - i, esc, &used);
    if (e)
      shown_put(w, esc, e);
    else
      shown_put(w, s + i, used);
  }
}

static size_t span_of(const char *s, size_t n, const char *stops) {
  size_t i = 0;
  while (i < n && !strchr(stops, s[i])) i++;
  return i;
}

const char *rpct__endpoint_shown(char *out, size_t size, const char *ep, size_t len) {
  shown w = {out, 0, size, false};
  if (size < 8) {
    if (size) out[0] = '\0';
    return out;
  }
  /* scheme://authority/path?query#fragment, any part may be missing. A
   * scheme is what comes before a first ':' that starts "://" ("user:pw@h"
   * has none). */
  size_t scheme = span_of(ep, len, ":/?#@");
  if (scheme + 3 <= len && memcmp(ep + scheme, "://", 3) == 0) {
    scheme += 3;
    shown_text(&w, ep, scheme);
  } else {
    scheme = 0;
  }
  const char *p = ep + scheme;
  size_t n = len - scheme;
  /* Userinfo: everything before the authority's last '@'. */
  size_t auth = span_of(p, n, "/?#");
  const char *at = NULL;
  for (size_t i = 0; i < auth; i++)
    if (p[i] == '@') at = p + i;
  if (at) {
    shown_put(&w, "***@", 4);
    auth -= (size_t)(at + 1 - p);
    n -= (size_t)(at + 1 - p);
    p = at + 1;
  }
  size_t path = auth + span_of(p + auth, n - auth, "?#");
  shown_text(&w, p, path);
  p += path;
  n -= path;
  if (n > 0 && *p == '?') {
    /* Each parameter keeps its name; its value, or the whole parameter
     * when it has no name, could be a token. */
    size_t query = 1 + span_of(p + 1, n - 1, "#");
    shown_put(&w, "?", 1);
    for (size_t i = 1; i < query;) {
      size_t param = span_of(p + i, query - i, "&;");
      const char *eq = memchr(p + i, '=', param);
      if (eq) {
        shown_text(&w, p + i, (size_t)(eq - (p + i)) + 1);
        shown_put(&w, "***", 3);
      } else if (param) {
        shown_put(&w, "***", 3);
      }
      i += param;
      if (i < query) {
        shown_put(&w, p + i, 1); /* the separator */
        i++;
      }
    }
    p += query;
    n -= query;
  }
  if (n > 0) shown_put(&w, n > 1 ? "#***" : "#", n > 1 ? 4 : 1);
  out[w.len] = '\0';
  return out;
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
