/*
 * "k1=v1,k2=v2" lists, the format of OTEL_RESOURCE_ATTRIBUTES and
 * OTEL_EXPORTER_OTLP_HEADERS: comma-separated members, white space around
 * keys and values ignored, empty members skipped, keys and values
 * percent-encoded. A list is checked whole before any member is used.
 *
 * Values are often secrets (OTEL_EXPORTER_OTLP_HEADERS holds API keys), so
 * a refused list is described by the bad member's position and key only.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct str_span {
  const char *p;
  size_t n;
} str_span;

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static str_span trim(const char *p, size_t n) {
  while (n > 0 && is_blank(*p)) {
    p++;
    n--;
  }
  while (n > 0 && is_blank(p[n - 1])) n--;
  return (str_span){p, n};
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* NULL when every '%' of `s` starts a valid escape, else why not. */
static const char *check_escapes(str_span s) {
  for (size_t i = 0; i < s.n; i++) {
    if (s.p[i] != '%') continue;
    if (s.n - i < 3 || hex_value(s.p[i + 1]) < 0 || hex_value(s.p[i + 2]) < 0)
      return "has a '%' not followed by two hex digits";
    /* Keys and values are C strings: a NUL would silently cut them. */
    if (hex_value(s.p[i + 1]) == 0 && hex_value(s.p[i + 2]) == 0) return "encodes a NUL byte (%00)";
    i += 2;
  }
  return NULL;
}

/* Percent-decode `s` into `out`; the length written. Escapes were checked
 * by check_escapes(); anything else is copied as it is. */
static size_t percent_decode(str_span s, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < s.n; i++) {
    int hi = -1, lo = -1;
    if (s.p[i] == '%' && s.n - i >= 3) {
      hi = hex_value(s.p[i + 1]);
      lo = hex_value(s.p[i + 2]);
    }
    if (hi >= 0 && lo >= 0) {
      out[o++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      out[o++] = s.p[i];
    }
  }
  return o;
}

/* The next non-empty comma-separated member of s[0..len) at or after *pos,
 * trimmed. false when there is none. */
static bool next_member(const char *s, size_t len, size_t *pos, str_span *member) {
  while (*pos < len) {
    const char *start = s + *pos;
    const char *comma = memchr(start, ',', len - *pos);
    size_t n = comma ? (size_t)(comma - start) : len - *pos;
    *pos += comma ? n + 1 : n;
    *member = trim(start, n);
    if (member->n > 0) return true;
  }
  return false;
}

/* Split "key=value" into its trimmed, still encoded halves. NULL when the
 * member is well formed, else why it is not. */
static const char *split_member(str_span m, str_span *key, str_span *value, bool *has_eq) {
  *key = *value = (str_span){m.p, 0};
  const char *eq = memchr(m.p, '=', m.n);
  *has_eq = eq != NULL;
  if (!eq) return "has no '=' (expected key=value)";
  *key = trim(m.p, (size_t)(eq - m.p));
  *value = trim(eq + 1, m.n - (size_t)(eq - m.p) - 1);
  if (key->n == 0) return "has an empty key";
  const char *why = check_escapes(*key);
  return why ? why : check_escapes(*value);
}

/* Fill *err for member number `index` (key as written, or none). */
static void set_error(rpct__kv_error *err, size_t index, str_span key, bool has_key,
                      const char *why) {
  err->member = index;
  err->key = has_key ? key.p : NULL;
  err->key_len = has_key ? key.n : 0;
  err->why = why;
}

int rpct__kv_list_parse(const char *s, size_t len, const rpct_allocator *alloc, rpct__kv_fn fn,
                        void *data, rpct__kv_error *err) {
  size_t pos = 0, index = 0;
  str_span m, key, value;
  bool has_eq;
  while (next_member(s, len, &pos, &m)) {
    index++;
    const char *w = split_member(m, &key, &value, &has_eq);
    if (w) {
      /* Without an '=' the member may be all value (a token pasted alone):
       * it has no key to name. */
      set_error(err, index, key, has_eq, w);
      return RPCT_ERR_PARSE;
    }
  }
  /* Decoding never lengthens, and a member's key and value together are
   * at least one byte ('=') shorter than the member: len bytes hold both. */
  char *buf = rpct__alloc(alloc, len);
  if (!buf) return RPCT_ERR_NO_MEMORY;
  int rc = RPCT_OK;
  pos = index = 0;
  while (rc == RPCT_OK && next_member(s, len, &pos, &m)) {
    index++;
    split_member(m, &key, &value, &has_eq);
    size_t kn = percent_decode(key, buf);
    size_t vn = percent_decode(value, buf + kn);
    const char *why = NULL;
    rc = fn(data, buf, kn, buf + kn, vn, &why);
    if (rc != RPCT_OK) set_error(err, index, key, true, why);
  }
  rpct__free(alloc, buf);
  return rc;
}

const char *rpct__kv_error_where(char out[RPCT__KV_WHERE_BUF], const rpct__kv_error *err) {
  if (!err->key || err->key_len == 0) {
    snprintf(out, RPCT__KV_WHERE_BUF, "member %zu", err->member);
  } else {
    char q[RPCT__QUOTE_BUF];
    snprintf(out, RPCT__KV_WHERE_BUF, "member %zu (key \"%s\")", err->member,
             rpct__quote(q, err->key, err->key_len));
  }
  return out;
}

bool rpct__list_next(rpct__list_iter *it, const char **m, size_t *n, size_t *kn) {
  if (it->p >= it->end) return false;
  const char *comma = memchr(it->p, ',', (size_t)(it->end - it->p));
  const char *stop = comma ? comma : it->end;
  const char *eq = memchr(it->p, '=', (size_t)(stop - it->p));
  *m = it->p;
  *n = (size_t)(stop - it->p);
  *kn = eq ? (size_t)(eq - it->p) : *n;
  it->p = comma ? comma + 1 : it->end;
  return true;
}
