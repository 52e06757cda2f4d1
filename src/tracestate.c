/*
 * W3C tracestate (Trace Context Level 2): strict parsing of one or several
 * header values into the canonical form kept in rpct_tracestate, and the
 * get / set / delete a vendor needs to update its own entry.
 *
 * No heap, no recursion: a parse records where each member lies in the
 * caller's input (at most 32 entries, so repeated keys are found by
 * comparing those), then writes the canonical form into a stack buffer and copies it
 * out. Several header values are never concatenated, and the input may even
 * be the output's own buffer.
 *
 * Nothing is reported through the diag handler: a bad tracestate comes from
 * a peer on every request, and logging it would cost the RPC and flood the
 * log. The caller sees RPCT_ERR_PARSE and may count it.
 */
#include <string.h>

#include "internal.h"

/* "key=value" at its longest: one more than RPCT_TRACESTATE_MAX_LEN, so a
 * valid member can still be too long to keep. */
#define MEMBER_MAX_LEN (RPCT_TRACESTATE_MAX_KEY_LEN + 1 + RPCT_TRACESTATE_MAX_VALUE_LEN)
_Static_assert(MEMBER_MAX_LEN <= UINT16_MAX, "member lengths are kept in uint16_t");
_Static_assert(RPCT_TRACESTATE_MAX_MEMBERS <= UINT8_MAX, "rpct_tracestate.count is uint8_t");

/* ---- grammar ---- */

static bool is_ows(char c) { return c == ' ' || c == '\t'; }
static bool is_lcalpha(char c) { return c >= 'a' && c <= 'z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@" */
static bool is_key_char(char c) {
  return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/' || c == '@';
}

/* chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E */
static bool is_value_char(char c) { return c >= 0x20 && c <= 0x7e && c != ',' && c != '='; }

/* key = ( lcalpha / DIGIT ) 0*255( keychar ). The Level 2 grammar has no
 * tenant@system split any more: '@' is one more key character, allowed
 * anywhere but first, any number of times, and only the whole key is
 * bounded (256 characters). */
static bool key_valid(const char *k, size_t n) {
  if (n < 1 || n > RPCT_TRACESTATE_MAX_KEY_LEN || !(is_lcalpha(k[0]) || is_digit(k[0])))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!is_key_char(k[i])) return false;
  return true;
}

static bool value_valid(const char *v, size_t n) {
  if (n < 1 || n > RPCT_TRACESTATE_MAX_VALUE_LEN || v[n - 1] == ' ') return false;
  for (size_t i = 0; i < n; i++)
    if (!is_value_char(v[i])) return false;
  return true;
}

/* strlen that stops looking after `max` + 1 characters: a result above
 * `max` only means "too long". */
static size_t bounded_len(const char *s, size_t max) {
  size_t n = 0;
  while (n <= max && s[n]) n++;
  return n;
}

/* ---- parsing ---- */

/* One valid member, where it lies in the caller's input. */
typedef struct ts_member {
  const char *p; /* "key=value" */
  uint16_t len;
  uint16_t key_len;
} ts_member;

typedef struct ts_scan {
  ts_member m[RPCT_TRACESTATE_MAX_MEMBERS];
  size_t count; /* members kept: distinct keys */
  size_t seen;  /* members read, duplicates included */
} ts_scan;

/* Check one list member (OWS already trimmed, not empty) and record it.
 * false for a bad member or a 33rd one: the header is then discarded whole,
 * as the W3C test suite expects. A later member with a key already seen is
 * valid but not kept: only one entry per key may be propagated, the
 * processing model lets a vendor discard the duplicates it did not make,
 * and the leftmost entry is the most recent position in the trace. It still
 * counts toward the 32 members the list grammar allows. */
static bool scan_member(ts_scan *sc, const char *p, size_t n) {
  const char *eq = memchr(p, '=', n);
  if (!eq) return false;
  size_t kn = (size_t)(eq - p);
  if (!key_valid(p, kn) || !value_valid(eq + 1, n - kn - 1)) return false;
  if (++sc->seen > RPCT_TRACESTATE_MAX_MEMBERS) return false;
  for (size_t i = 0; i < sc->count; i++)
    if (sc->m[i].key_len == kn && memcmp(sc->m[i].p, p, kn) == 0) return true;
  /* Both fit in uint16_t: key_valid and value_valid bounded them. */
  sc->m[sc->count++] = (ts_member){.p = p, .len = (uint16_t)n, .key_len = (uint16_t)kn};
  return true;
}

/* One header value: members separated by ',', each with OWS around it;
 * empty members are skipped. */
static bool scan_value(ts_scan *sc, const char *s, size_t len) {
  const char *end = s + len;
  for (const char *p = s;;) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *stop = comma ? comma : end;
    const char *b = p, *e = stop;
    while (b < e && is_ows(*b)) b++;
    while (e > b && is_ows(e[-1])) e--;
    if (b < e && !scan_member(sc, b, (size_t)(e - b))) return false;
    if (!comma) return true;
    p = comma + 1;
  }
}

/* Length of `kept` members of `sum` characters in all, joined by ','. */
static size_t joined_len(size_t sum, size_t kept) { return kept ? sum + kept - 1 : 0; }

/* Canonical form of the scanned members into out, truncated to
 * RPCT_TRACESTATE_MAX_LEN: members over RPCT_TRACESTATE_LARGE_MEMBER go
 * first, last first, then whatever is last. */
static void build(const ts_scan *sc, rpct_tracestate *out) {
  bool drop[RPCT_TRACESTATE_MAX_MEMBERS] = {false};
  size_t kept = sc->count, sum = 0;
  for (size_t i = 0; i < sc->count; i++) sum += sc->m[i].len;
  for (size_t i = sc->count; i-- > 0 && joined_len(sum, kept) > RPCT_TRACESTATE_MAX_LEN;) {
    if (sc->m[i].len > RPCT_TRACESTATE_LARGE_MEMBER) {
      drop[i] = true;
      sum -= sc->m[i].len;
      kept--;
    }
  }
  for (size_t i = sc->count; i-- > 0 && joined_len(sum, kept) > RPCT_TRACESTATE_MAX_LEN;) {
    if (!drop[i]) {
      drop[i] = true;
      sum -= sc->m[i].len;
      kept--;
    }
  }

  /* The members may point into out->buf itself: write elsewhere first. */
  char tmp[RPCT_TRACESTATE_MAX_LEN];
  size_t n = 0;
  for (size_t i = 0; i < sc->count; i++) {
    if (drop[i]) continue;
    if (n) tmp[n++] = ',';
    memcpy(tmp + n, sc->m[i].p, sc->m[i].len);
    n += sc->m[i].len;
  }
  if (n) memcpy(out->buf, tmp, n);
  out->len = (uint16_t)n;
  out->count = (uint8_t)kept;
}

int rpct_tracestate_parse_multi(const char *const *values, const size_t *lens, size_t n,
                                rpct_tracestate *out) {
  if (!out) return RPCT_ERR_INVALID_ARGUMENT;
  int rc = RPCT_OK;
  ts_scan sc;
  sc.count = 0;
  sc.seen = 0;
  if (n && (!values || !lens)) {
    rc = RPCT_ERR_INVALID_ARGUMENT;
  } else {
    for (size_t i = 0; i < n && rc == RPCT_OK; i++) {
      if (!values[i])
        rc = RPCT_ERR_INVALID_ARGUMENT;
      else if (!scan_value(&sc, values[i], lens[i]))
        rc = RPCT_ERR_PARSE;
    }
  }
  if (rc != RPCT_OK) {
    out->len = 0;
    out->count = 0;
    return rc;
  }
  build(&sc, out);
  return RPCT_OK;
}

int rpct_tracestate_parse(const char *s, size_t len, rpct_tracestate *out) {
  return rpct_tracestate_parse_multi(&s, &len, 1, out);
}

/* ---- the canonical form ---- */

/* Members of a canonical tracestate, one at a time. A struct with len
 * beyond the buffer is read up to the buffer's end, never past it. */
typedef rpct__list_iter ts_iter;

static size_t used_len(const rpct_tracestate *ts) {
  return ts->len <= RPCT_TRACESTATE_MAX_LEN ? ts->len : RPCT_TRACESTATE_MAX_LEN;
}

static ts_iter iter_begin(const rpct_tracestate *ts) {
  return (ts_iter){.p = ts->buf, .end = ts->buf + used_len(ts)};
}


/* The member whose key is k[0..kn): its start and length. */
static bool find(const rpct_tracestate *ts, const char *k, size_t kn, const char **m, size_t *n) {
  ts_iter it = iter_begin(ts);
  size_t mkn;
  while (rpct__list_next(&it, m, n, &mkn))
    if (mkn == kn && memcmp(*m, k, kn) == 0) return true;
  return false;
}

int rpct_tracestate_get(const rpct_tracestate *ts, const char *key, const char **value,
                        size_t *value_len) {
  if (!ts || !key || !value || !value_len) return RPCT_ERR_INVALID_ARGUMENT;
  *value = NULL;
  *value_len = 0;
  size_t kn = bounded_len(key, RPCT_TRACESTATE_MAX_KEY_LEN), n;
  const char *m;
  if (kn > RPCT_TRACESTATE_MAX_KEY_LEN || !find(ts, key, kn, &m, &n) || n <= kn)
    return RPCT_ERR_NOT_FOUND;
  *value = m + kn + 1;
  *value_len = n - kn - 1;
  return RPCT_OK;
}

int rpct_tracestate_set(rpct_tracestate *ts, const char *key, const char *value) {
  if (!ts || !key || !value) return RPCT_ERR_INVALID_ARGUMENT;
  size_t kn = bounded_len(key, RPCT_TRACESTATE_MAX_KEY_LEN);
  size_t vn = bounded_len(value, RPCT_TRACESTATE_MAX_VALUE_LEN);
  if (!key_valid(key, kn) || !value_valid(value, vn)) return RPCT_ERR_PARSE;
  if (kn + 1 + vn > RPCT_TRACESTATE_MAX_LEN) return RPCT_ERR_NO_SPACE;

  /* The new member first, then the old ones but its own, while they fit. */
  char tmp[RPCT_TRACESTATE_MAX_LEN];
  memcpy(tmp, key, kn);
  tmp[kn] = '=';
  memcpy(tmp + kn + 1, value, vn);
  size_t len = kn + 1 + vn, count = 1;
  ts_iter it = iter_begin(ts);
  const char *m;
  size_t n, mkn;
  while (count < RPCT_TRACESTATE_MAX_MEMBERS && rpct__list_next(&it, &m, &n, &mkn)) {
    if (mkn == kn && memcmp(m, key, kn) == 0) continue;
    if (len + 1 + n > RPCT_TRACESTATE_MAX_LEN) break;
    tmp[len++] = ',';
    memcpy(tmp + len, m, n);
    len += n;
    count++;
  }
  memcpy(ts->buf, tmp, len);
  ts->len = (uint16_t)len;
  ts->count = (uint8_t)count;
  return RPCT_OK;
}

int rpct_tracestate_delete(rpct_tracestate *ts, const char *key) {
  if (!ts || !key) return RPCT_ERR_INVALID_ARGUMENT;
  size_t kn = bounded_len(key, RPCT_TRACESTATE_MAX_KEY_LEN), n;
  const char *m;
  if (kn > RPCT_TRACESTATE_MAX_KEY_LEN || !find(ts, key, kn, &m, &n)) return RPCT_ERR_NOT_FOUND;
  size_t len = used_len(ts);
  size_t start = (size_t)(m - ts->buf), stop = start + n;
  /* Take one separator with it: the one after, or before the last member. */
  if (stop < len)
    stop++;
  else if (start > 0)
    start--;
  memmove(ts->buf + start, ts->buf + stop, len - stop);
  ts->len = (uint16_t)(len - (stop - start));
  if (ts->count) ts->count--;
  return RPCT_OK;
}
