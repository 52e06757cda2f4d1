/*
 * Reading OTEL_* environment variables. Every variable of the SDK goes
 * through these three functions so that a bad value is handled the same way
 * everywhere: reported once, by name, with the default used instead, and
 * never fatal.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

const char *rpct__quote(char out[RPCT__QUOTE_BUF], const char *s, size_t len) {
  size_t n = len;
  bool cut = false;
  if (n > RPCT__QUOTE_MAX) {
    n = RPCT__QUOTE_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    cut = true;
  }
  /* Every escape is at most 4 bytes per byte it stands for ("\x0a" for 1,
   * "\u0085" for 2, "\u202e" for 3): RPCT__QUOTE_BUF holds the worst case. */
  size_t o = 0;
  char esc[RPCT__ESCAPE_BUF];
  for (size_t i = 0, used; i < n; i += used) {
    unsigned char c = (unsigned char)s[i];
    size_t e;
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
      used = 1;
    } else if ((e = rpct__escape_char(s + i, n - i, esc, &used)) != 0) {
      memcpy(out + o, esc, e);
      o += e;
    } else {
      memcpy(out + o, s + i, used);
      o += used;
    }
  }
  if (cut) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
  return out;
}

const char *rpct__env_get(const char *name, size_t *len) {
  const char *v = getenv(name);
  size_t n = 0;
  if (v) {
    while (is_blank(*v)) v++;
    n = strlen(v);
    while (n > 0 && is_blank(v[n - 1])) n--;
    if (n == 0) v = NULL;
  }
  if (len) *len = n;
  return v;
}

/* Decimal digits only, no sign, no white space inside, no overflow. */
static bool parse_u64(const char *s, size_t len, uint64_t *out) {
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return len > 0;
}

uint64_t rpct__env_uint(const char *name, uint64_t def, uint64_t min, uint64_t max) {
  size_t len;
  const char *s = rpct__env_get(name, &len);
  if (!s) return def;
  uint64_t v;
  if (parse_u64(s, len, &v) && v >= min && v <= max) return v;
  /* One message for malformed and out-of-range values: the range tells the
   * user what is accepted either way. */
  char q[RPCT__QUOTE_BUF];
  rpct__diag_once(
      name, "%s=\"%s\" is not an integer in [%" PRIu64 ", %" PRIu64 "]; using the default %" PRIu64,
      name, rpct__quote(q, s, len), min, max, def);
  return def;
}

bool rpct__env_bool(const char *name, bool def) {
  size_t len;
  const char *s = rpct__env_get(name, &len);
  if (!s) return def;
  if (len == 4 && strncasecmp(s, "true", 4) == 0) return true;
  if (len == 5 && strncasecmp(s, "false", 5) == 0) return false;
  char q[RPCT__QUOTE_BUF];
  rpct__diag_once(name, "%s=\"%s\" is not a boolean (true or false); using the default %s", name,
                  rpct__quote(q, s, len), def ? "true" : "false");
  return def;
}
