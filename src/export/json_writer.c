/* Low-level JSON output into a growable buffer (see json_writer.h). */
#include "json_writer.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "utf8.h"

#define DEFAULT_INITIAL ((size_t)256)

void rpct__json_init(rpct__json_buf *b, const rpct_allocator *alloc, size_t initial) {
  memset(b, 0, sizeof *b);
  b->alloc = alloc;
  b->initial = initial ? initial : DEFAULT_INITIAL;
}

void rpct__json_release(rpct__json_buf *b) {
  rpct__free(b->alloc, b->buf);
  b->buf = NULL;
  b->len = 0;
  b->cap = 0;
  b->oom = false;
}

void rpct__json_reset(rpct__json_buf *b) {
  b->len = 0;
  b->oom = false;
}

bool rpct__json_reserve(rpct__json_buf *b, size_t more) {
  if (b->oom) return false;
  if (more <= b->cap - b->len) return true;
  if (more > SIZE_MAX / 2 - b->len) {
    b->oom = true;
    return false;
  }
  size_t need = b->len + more;
  size_t cap = b->cap ? b->cap : b->initial;
  while (cap < need) cap *= 2;
  char *buf = rpct__alloc(b->alloc, cap);
  if (!buf) {
    b->oom = true;
    return false;
  }
  if (b->len) memcpy(buf, b->buf, b->len);
  rpct__free(b->alloc, b->buf);
  b->buf = buf;
  b->cap = cap;
  return true;
}

void rpct__json_put(rpct__json_buf *b, const char *s, size_t n) {
  if (n == 0 || !rpct__json_reserve(b, n)) return;
  memcpy(b->buf + b->len, s, n);
  b->len += n;
}

void rpct__json_char(rpct__json_buf *b, char c) { rpct__json_put(b, &c, 1); }

void rpct__json_key(rpct__json_buf *b, bool *first, const char *name) {
  if (!*first) rpct__json_char(b, ',');
  *first = false;
  rpct__json_char(b, '"');
  rpct__json_put(b, name, strlen(name));
  RPCT__JSON_LIT(b, "\":");
}

void rpct__json_bool(rpct__json_buf *b, bool v) {
  if (v)
    RPCT__JSON_LIT(b, "true");
  else
    RPCT__JSON_LIT(b, "false");
}

void rpct__json_u32(rpct__json_buf *b, uint32_t v) {
  char tmp[16];
  int n = snprintf(tmp, sizeof tmp, "%" PRIu32, v);
  rpct__json_put(b, tmp, (size_t)n);
}

void rpct__json_u64_str(rpct__json_buf *b, uint64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof tmp, "\"%" PRIu64 "\"", v);
  rpct__json_put(b, tmp, (size_t)n);
}

void rpct__json_i64_str(rpct__json_buf *b, int64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof tmp, "\"%" PRId64 "\"", v);
  rpct__json_put(b, tmp, (size_t)n);
}

void rpct__json_double(rpct__json_buf *b, double v) {
  if (isnan(v)) {
    RPCT__JSON_LIT(b, "\"NaN\"");
    return;
  }
  if (isinf(v)) {
    if (v > 0)
      RPCT__JSON_LIT(b, "\"Infinity\"");
    else
      RPCT__JSON_LIT(b, "\"-Infinity\"");
    return;
  }
  char tmp[40];
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (prec == 17 || strtod(tmp, NULL) == v) break;
  }
  /* printf follows LC_NUMERIC, whose decimal point may be "," or several
   * bytes: write every run of other characters as the JSON '.'. */
  char num[40];
  size_t o = 0;
  for (int i = 0; i < n; i++) {
    char c = tmp[i];
    if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e') {
      num[o++] = c;
    } else if (o == 0 || num[o - 1] != '.') {
      num[o++] = '.';
    }
  }
  rpct__json_put(b, num, o);
}

void rpct__json_hex(rpct__json_buf *b, const uint8_t *bytes, size_t n) {
  char hex[2 * 32];
  rpct__json_char(b, '"');
  while (n > 0) {
    size_t chunk = n < sizeof hex / 2 ? n : sizeof hex / 2;
    rpct__hex_encode(bytes, chunk, hex);
    rpct__json_put(b, hex, 2 * chunk);
    bytes += chunk;
    n -= chunk;
  }
  rpct__json_char(b, '"');
}

void rpct__json_base64(rpct__json_buf *b, const uint8_t *bytes, size_t n) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  rpct__json_char(b, '"');
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8 | bytes[i + 2];
    char out[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63],
                   alphabet[v & 63]};
    rpct__json_put(b, out, 4);
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)bytes[i] << 16;
    char out[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], '=', '='};
    rpct__json_put(b, out, 4);
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8;
    char out[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], '='};
    rpct__json_put(b, out, 4);
  }
  rpct__json_char(b, '"');
}

void rpct__json_str(rpct__json_buf *b, const char *s, size_t n) {
  static const char digits[] = "0123456789abcdef";
  const unsigned char *u = (const unsigned char *)s;
  rpct__json_char(b, '"');
  size_t i = 0;
  while (i < n && !b->oom) {
    /* Copy the longest run that needs no attention in one go. */
    size_t run = i;
    while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\') run++;
    rpct__json_put(b, s + i, run - i);
    i = run;
    if (i == n) break;
    unsigned char c = u[i];
    if (c >= 0x80) {
      size_t skip;
      size_t len = rpct__utf8_sequence(u + i, n - i, &skip);
      if (len) {
        rpct__json_put(b, s + i, len);
        i += len;
      } else {
        /* U+FFFD itself, as the protobuf encoder writes it (utf8.c), so
         * the JSON and protobuf forms of one span carry the same string. */
        RPCT__JSON_LIT(b, "\xEF\xBF\xBD");
        i += skip;
      }
      continue;
    }
    char esc[6] = {'\\', (char)c};
    size_t esc_len = 2;
    switch (c) {
      case '"':
      case '\\': break; /* esc already holds the backslash and the character */
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = digits[c >> 4];
        esc[5] = digits[c & 0xF];
        esc_len = 6;
        break;
    }
    rpct__json_put(b, esc, esc_len);
    i++;
  }
  rpct__json_char(b, '"');
}

void rpct__json_cstr(rpct__json_buf *b, const char *s) { rpct__json_str(b, s, strlen(s)); }
