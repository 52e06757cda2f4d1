/*
 * W3C baggage: lenient-per-member parsing of one or several header values
 * into the canonical form kept in rpct_baggage, and get / set.
 *
 * Why lenient: the baggage specification asks that one malformed entry not
 * cost the others, unlike tracestate where one bad member discards the
 * header. So a malformed member is skipped and reported in the return value,
 * and the rest is kept.
 *
 * No heap, no recursion: each member is checked and measured in place, then
 * written in canonical form into a stack buffer that is copied out at the
 * end, so the input may be the output's own buffer. Members are kept in
 * order while they fit; the first one that would exceed a limit is dropped
 * with every valid member after it, which is "drop from the end until the
 * rest fits" done in one pass.
 */
#include <string.h>

#include "internal.h"

_Static_assert(RPCT_BAGGAGE_MAX_LEN <= UINT16_MAX, "rpct_baggage.len is uint16_t");
_Static_assert(RPCT_BAGGAGE_MAX_MEMBERS <= UINT8_MAX, "rpct_baggage.count is uint8_t");

/* ---- grammar ---- */

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* RFC 7230 tchar: ALPHA / DIGIT / one of !#$%&'*+-.^_`|~ */
static bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E: printable
 * ASCII but space, '"', ',', ';' and '\'. */
static bool is_octet(char c) {
  unsigned char u = (unsigned char)c;
  return u >= 0x21 && u <= 0x7e && u != '"' && u != ',' && u != ';' && u != '\\';
}

/* Index of the first character at or after i that is not `pred`. */
static size_t span_of(const char *s, size_t n, size_t i, bool (*pred)(char)) {
  while (i < n && pred(s[i])) i++;
  return i;
}

/* Append s[0..n) at out + *w when out is given; count it in *w either way. */
static void put(char *out, size_t *w, const char *s, size_t n) {
  if (out) memcpy(out + *w, s, n);
  *w += n;
}

/*
 * One list member m[0..n) (OWS around it already trimmed, n > 0):
 *   key OWS "=" OWS value *( OWS ";" OWS pkey [ OWS "=" OWS pvalue ] )
 * Returns the length of its canonical form (OWS removed), 0 when malformed.
 * With `out`, also writes that form there; call once without to check and
 * measure, then with room for the measured length.
 */
static size_t canon_member(const char *m, size_t n, char *out) {
  size_t i = 0, w = 0, k;
  k = span_of(m, n, i, is_tchar);
  if (k == i) return 0;
  put(out, &w, m + i, k - i);
  i = span_of(m, n, k, is_ows);
  if (i == n || m[i] != '=') return 0;
  put(out, &w, "=", 1);
  i = span_of(m, n, i + 1, is_ows);
  k = span_of(m, n, i, is_octet);
  put(out, &w, m + i, k - i);
  i = k;
  for (;;) {
    i = span_of(m, n, i, is_ows);
    if (i == n) return w;
    if (m[i] != ';') return 0;
    put(out, &w, ";", 1);
    i = span_of(m, n, i + 1, is_ows);
    k = span_of(m, n, i, is_tchar);
    if (k == i) return 0;
    put(out, &w, m + i, k - i);
    i = span_of(m, n, k, is_ows);
    if (i < n && m[i] == '=') {
      put(out, &w, "=", 1);
      i = span_of(m, n, i + 1, is_ows);
      k = span_of(m, n, i, is_octet);
      put(out, &w, m + i, k - i);
      i = k;
    }
  }
}

/* ---- parsing ---- */

typedef struct bag_build {
  char buf[RPCT_BAGGAGE_MAX_LEN];
  size_t len, count;
  bool malformed; /* a member was skipped as malformed */
  bool full;      /* a valid member did not fit: it and all later ones are dropped */
} bag_build;

static void add_member(bag_build *bb, const char *m, size_t n) {
  size_t cn = canon_member(m, n, NULL);
  if (cn == 0) {
    bb->malformed = true;
    return;
  }
  if (bb->full) return;
  size_t need = cn + (bb->count ? 1 : 0);
  if (bb->count == RPCT_BAGGAGE_MAX_MEMBERS || need > RPCT_BAGGAGE_MAX_LEN - bb->len) {
    bb->full = true;
    return;
  }
  if (bb->count) bb->buf[bb->len++] = ',';
  canon_member(m, n, bb->buf + bb->len);
  bb->len += cn;
  bb->count++;
}

/* One header value: members separated by ','; empty ones skipped. */
static void add_value(bag_build *bb, const char *s, size_t len) {
  const char *end = s + len;
  for (const char *p = s;;) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *b = p, *e = comma ? comma : end;
    while (b < e && is_ows(*b)) b++;
    while (e > b && is_ows(e[-1])) e--;
    if (b < e) add_member(bb, b, (size_t)(e - b));
    if (!comma) return;
    p = comma + 1;
  }
}

static void empty(rpct_baggage *b) {
  b->len = 0;
  b->count = 0;
}

int rpct_baggage_parse_multi(const char *const *values, const size_t *lens, size_t n,
                             rpct_baggage *out) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  if (n && (!values || !lens)) {
    empty(out);
    return RPCT_ERR_INVALID_ARGUMENT;
  }
  for (size_t i = 0; i < n; i++) {
    if (!values[i]) {
      empty(out);
      return RPCT_ERR_INVALID_ARGUMENT;
    }
  }
  bag_build bb;
  bb.len = bb.count = 0;
  bb.malformed = bb.full = false;
  for (size_t i = 0; i < n; i++) add_value(&bb, values[i], lens[i]);
  if (bb.len) memcpy(out->buf, bb.buf, bb.len);
  out->len = (uint16_t)bb.len;
  out->count = (uint8_t)bb.count;
  if (bb.malformed) return RPCT_ERR_PARSE;
  return bb.full ? RPCT_ERR_LIMIT : RPCT_OK;
}

int rpct_baggage_parse(const char *s, size_t len, rpct_baggage *out) {
  return rpct_baggage_parse_multi(&s, &len, 1, out);
}

/* ---- the canonical form ---- */

/* Members of a canonical baggage, one at a time. A struct whose len lies
 * beyond the buffer is read up to the buffer's end, never past it. */
typedef rpct__list_iter bag_iter;

static bag_iter iter_begin(const rpct_baggage *b) {
  size_t n = b->len <= RPCT_BAGGAGE_MAX_LEN ? b->len : RPCT_BAGGAGE_MAX_LEN;
  return (bag_iter){.p = b->buf, .end = b->buf + n};
}


/* strlen that stops looking after `max` + 1 characters: a result above
 * `max` only means "too long". */
static size_t bounded_len(const char *s, size_t max) {
  size_t n = 0;
  while (n <= max && s[n]) n++;
  return n;
}

int rpct_baggage_get(const rpct_baggage *b, const char *key, const char **value,
                     size_t *value_len) {
  if (!b || !key || !value || !value_len) return RPCT_ERR_INVALID_ARGUMENT;
  *value = NULL;
  *value_len = 0;
  size_t kn = bounded_len(key, RPCT_BAGGAGE_MAX_LEN);
  bag_iter it = iter_begin(b);
  const char *m;
  size_t n, mkn;
  while (rpct__list_next(&it, &m, &n, &mkn)) {
    if (mkn != kn || mkn == n || memcmp(m, key, kn) != 0) continue;
    const char *v = m + kn + 1;
    const char *semi = memchr(v, ';', n - kn - 1);
    *value = v;
    *value_len = semi ? (size_t)(semi - v) : n - kn - 1;
    return RPCT_OK;
  }
  return RPCT_ERR_NOT_FOUND;
}

/* Whether the value byte c goes on the wire as "%XX": everything outside
 * baggage-octet, and '%' so that decoding gives the value back. */
static bool needs_escape(char c) { return !is_octet(c) || c == '%'; }

/* Length of `value` percent-encoded; anything over `max` only means "too
 * long" (the scan stops there). */
static size_t encoded_len(const char *value, size_t max) {
  size_t n = 0;
  for (const char *p = value; *p && n <= max; p++) n += needs_escape(*p) ? 3 : 1;
  return n;
}

static size_t encode(const char *value, char *out) {
  static const char hex[] = "0123456789ABCDEF";
  size_t w = 0;
  for (const char *p = value; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (needs_escape(*p)) {
      out[w++] = '%';
      out[w++] = hex[c >> 4];
      out[w++] = hex[c & 15];
    } else {
      out[w++] = *p;
    }
  }
  return w;
}

int rpct_baggage_set(rpct_baggage *b, const char *key, const char *value) {
  if (!b || !key || !value) return RPCT_ERR_INVALID_ARGUMENT;
  size_t kn = bounded_len(key, RPCT_BAGGAGE_MAX_LEN);
  if (kn == 0 || span_of(key, kn, 0, is_tchar) != kn) return RPCT_ERR_PARSE;
  size_t vn = encoded_len(value, RPCT_BAGGAGE_MAX_LEN);
  size_t mn = kn + 1 + vn;
  if (mn > RPCT_BAGGAGE_MAX_LEN) return RPCT_ERR_LIMIT;

  /* The old members in order, the new one in place of the first with its
   * key (later ones with the key dropped) or at the end; refused whole if
   * the result does not fit. */
  char tmp[RPCT_BAGGAGE_MAX_LEN];
  size_t len = 0, count = 0;
  bool placed = false;
  bag_iter it = iter_begin(b);
  const char *m;
  size_t n, mkn;
  for (;;) {
    bool more = rpct__list_next(&it, &m, &n, &mkn);
    bool mine = more && mkn == kn && memcmp(m, key, kn) == 0;
    if (mine && placed) continue;
    if (!more && placed) break;
    size_t add = mine || !more ? mn : n;
    if (count == RPCT_BAGGAGE_MAX_MEMBERS || add + (count ? 1 : 0) > RPCT_BAGGAGE_MAX_LEN - len)
      return RPCT_ERR_LIMIT;
    if (count) tmp[len++] = ',';
    if (mine || !more) {
      memcpy(tmp + len, key, kn);
      tmp[len + kn] = '=';
      encode(value, tmp + len + kn + 1);
      placed = true;
    } else {
      memcpy(tmp + len, m, n);
    }
    len += add;
    count++;
    if (!more) break;
  }
  memcpy(b->buf, tmp, len);
  b->len = (uint16_t)len;
  b->count = (uint8_t)count;
  return RPCT_OK;
}

int rpct_baggage_format(const rpct_baggage *b, char *buf, size_t size) {
  if (!b || !buf) return RPCT_ERR_INVALID_ARGUMENT;
  size_t n = b->len <= RPCT_BAGGAGE_MAX_LEN ? b->len : RPCT_BAGGAGE_MAX_LEN;
  if (size < n + 1) return RPCT_ERR_NO_SPACE;
  memcpy(buf, b->buf, n);
  buf[n] = '\0';
  return (int)n;
}
