/*
 * A strict JSON parser (see json.h): recursive descent over the bytes, with
 * the depth bounded before each descent.
 *
 * Memory: nodes and strings come from an arena of blocks owned by the
 * document. While a container is parsed, its items wait on a stack shared
 * by every level (a container's items are the top of the stack between its
 * '[' and its ']'); at the ']' they are copied into the arena as one
 * contiguous array and popped. So each value is allocated once, at its
 * final size.
 */
#include "json.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */

#define BLOCK_MIN ((size_t)16 * 1024)

typedef struct block {
  struct block *next;
  size_t used, cap;
  alignas(max_align_t) unsigned char data[];
} block;

struct rtt_json_doc {
  block *blocks; /* newest first */
  rtt_json root;
};

static void *arena_alloc(rtt_json_doc *doc, size_t size) {
  const size_t align = alignof(max_align_t);
  if (size > SIZE_MAX - align) return NULL;
  size = (size + align - 1) & ~(align - 1);
  block *b = doc->blocks;
  if (!b || b->cap - b->used < size) {
    size_t cap = size > BLOCK_MIN ? size : BLOCK_MIN;
    /* Grow blocks with the document so a large one needs few of them. */
    if (b && b->cap < SIZE_MAX / 4 && cap < b->cap * 2) cap = b->cap * 2;
    if (cap > SIZE_MAX - sizeof(block)) return NULL;
    block *nb = malloc(sizeof(block) + cap);
    if (!nb) return NULL;
    nb->next = doc->blocks;
    nb->used = 0;
    nb->cap = cap;
    doc->blocks = nb;
    b = nb;
  }
  void *p = b->data + b->used;
  b->used += size;
  return p;
}

void rtt_json_doc_free(rtt_json_doc *doc) {
  if (!doc) return;
  block *b = doc->blocks;
  while (b) {
    block *next = b->next;
    free(b);
    b = next;
  }
  free(doc);
}

const rtt_json *rtt_json_root(const rtt_json_doc *doc) { return &doc->root; }

/* ---- parser state ---- */

typedef struct parser {
  const unsigned char *s;
  size_t len, pos;
  size_t depth, max_depth;
  rtt_json_doc *doc;
  /* Items of the containers being parsed (see the top of the file). */
  rtt_json *items;
  size_t n_items, cap_items;
  rtt_json_member *members;
  size_t n_members, cap_members;
  /* Bytes of the string being decoded. */
  char *sbuf;
  size_t sbuf_len, sbuf_cap;
  int code; /* RTT_JSON_ESYNTAX or RTT_JSON_ENOMEM once failed */
  rtt_json_error *err;
} parser;

/* Record the first failure only: the innermost call knows best. */
static void report_at(parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report_at(parser *p, size_t at, const char *fmt, ...) {
  if (p->code) return;
  p->code = RTT_JSON_ESYNTAX;
  if (p->err) {
    p->err->offset = at;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
    va_end(ap);
  }
}

/* Report and evaluate to false, so a parsing step can `return FAIL_AT(...)`. */
#define FAIL_AT(p, at, ...) (report_at((p), (at), __VA_ARGS__), false)

static bool fail_nomem(parser *p) {
  if (p->code) return false;
  p->code = RTT_JSON_ENOMEM;
  if (p->err) {
    p->err->offset = p->pos;
    snprintf(p->err->message, sizeof p->err->message, "out of memory");
  }
  return false;
}

/* "unexpected character 'x'" / "unexpected byte 0xNN" / end of input, for
 * the byte at `at`. */
static bool fail_unexpected(parser *p, size_t at, const char *expecting) {
  if (at >= p->len) return FAIL_AT(p, at, "unexpected end of input, expected %s", expecting);
  unsigned char c = p->s[at];
  if (c > 0x20 && c < 0x7f)
    return FAIL_AT(p, at, "unexpected character '%c', expected %s", c, expecting);
  return FAIL_AT(p, at, "unexpected byte 0x%02X, expected %s", c, expecting);
}

/* Grow a stack (`*arr` of elements of `size` bytes) so one more fits. */
static bool grow(void **arr, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return true;
  size_t ncap = *cap ? *cap * 2 : 64;
  if (ncap > SIZE_MAX / size) return false;
  void *q = realloc(*arr, ncap * size);
  if (!q) return false;
  *arr = q;
  *cap = ncap;
  return true;
}

static void skip_ws(parser *p) {
  while (p->pos < p->len) {
    unsigned char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

/* ---- strings ---- */

static bool sbuf_put(parser *p, const void *bytes, size_t n) {
  if (n > p->sbuf_cap - p->sbuf_len) {
    size_t cap = p->sbuf_cap ? p->sbuf_cap : 256;
    while (cap - p->sbuf_len < n) {
      if (cap > SIZE_MAX / 2) return fail_nomem(p);
      cap *= 2;
    }
    char *q = realloc(p->sbuf, cap);
    if (!q) return fail_nomem(p);
    p->sbuf = q;
    p->sbuf_cap = cap;
  }
  memcpy(p->sbuf + p->sbuf_len, bytes, n);
  p->sbuf_len += n;
  return true;
}

static bool put_code_point(parser *p, uint32_t cp) {
  unsigned char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (unsigned char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (unsigned char)(0xC0 | cp >> 6);
    u[1] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (unsigned char)(0xE0 | cp >> 12);
    u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    u[0] = (unsigned char)(0xF0 | cp >> 18);
    u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  return sbuf_put(p, u, n);
}

static int hex_digit(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The 4 hex digits after "\u" at p->pos (which points at the 'u'). */
static bool read_u_escape(parser *p, uint32_t *out) {
  uint32_t v = 0;
  for (size_t k = 1; k <= 4; k++) {
    size_t at = p->pos + k;
    if (at >= p->len) return FAIL_AT(p, p->len, "unterminated string (in a \\u escape)");
    int d = hex_digit(p->s[at]);
    if (d < 0) return FAIL_AT(p, at, "invalid \\u escape: expected 4 hex digits");
    v = v << 4 | (uint32_t)d;
  }
  p->pos += 5;
  *out = v;
  return true;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) whose first byte is
 * >= 0x80, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < need) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t k = 2; k < need; k++)
    if (s[k] < 0x80 || s[k] > 0xBF) return 0;
  return need;
}

/* A string starting at the '"' at p->pos: decoded into p->sbuf (reset
 * first), NUL-terminated there; *len excludes the NUL. */
static bool parse_string_bytes(parser *p, size_t *len) {
  size_t open = p->pos;
  p->pos++;
  p->sbuf_len = 0;
  for (;;) {
    size_t run = p->pos;
    while (run < p->len && p->s[run] >= 0x20 && p->s[run] < 0x80 && p->s[run] != '"' &&
           p->s[run] != '\\')
      run++;
    if (run > p->pos && !sbuf_put(p, p->s + p->pos, run - p->pos)) return false;
    p->pos = run;
    if (p->pos >= p->len)
      return FAIL_AT(p, p->len, "unterminated string (opened at byte %zu)", open);
    unsigned char c = p->s[p->pos];
    if (c == '"') {
      p->pos++;
      break;
    }
    if (c < 0x20)
      return FAIL_AT(p, p->pos, "control character U+%04X in a string (must be escaped)", c);
    if (c >= 0x80) {
      size_t n = utf8_len(p->s + p->pos, p->len - p->pos);
      if (!n) return FAIL_AT(p, p->pos, "invalid UTF-8 (byte 0x%02X)", c);
      if (!sbuf_put(p, p->s + p->pos, n)) return false;
      p->pos += n;
      continue;
    }
    /* A backslash. */
    size_t esc = p->pos;
    if (esc + 1 >= p->len) return FAIL_AT(p, p->len, "unterminated string (after '\\')");
    unsigned char e = p->s[esc + 1];
    char out;
    switch (e) {
      case '"': out = '"'; break;
      case '\\': out = '\\'; break;
      case '/': out = '/'; break;
      case 'b': out = '\b'; break;
      case 'f': out = '\f'; break;
      case 'n': out = '\n'; break;
      case 'r': out = '\r'; break;
      case 't': out = '\t'; break;
      case 'u': {
        p->pos = esc + 1;
        uint32_t cp;
        if (!read_u_escape(p, &cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          return FAIL_AT(p, esc, "lone low surrogate \\u%04X", (unsigned)cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (p->pos + 1 >= p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
            return FAIL_AT(p, esc, "high surrogate \\u%04X not followed by a low one",
                           (unsigned)cp);
          size_t second = p->pos;
          p->pos++;
          uint32_t lo;
          if (!read_u_escape(p, &lo)) return false;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return FAIL_AT(p, second, "high surrogate \\u%04X followed by \\u%04X, not a low one",
                           (unsigned)cp, (unsigned)lo);
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (!put_code_point(p, cp)) return false;
        continue;
      }
      default:
        if (e > 0x20 && e < 0x7f) return FAIL_AT(p, esc, "invalid escape '\\%c'", e);
        return FAIL_AT(p, esc, "invalid escape (byte 0x%02X after '\\')", e);
    }
    if (!sbuf_put(p, &out, 1)) return false;
    p->pos = esc + 2;
  }
  *len = p->sbuf_len;
  char nul = '\0';
  return sbuf_put(p, &nul, 1);
}

/* A copy of p->sbuf[0..len] (with its NUL) in the arena. */
static const char *keep_sbuf(parser *p, size_t len) {
  char *s = arena_alloc(p->doc, len + 1);
  if (!s) {
    fail_nomem(p);
    return NULL;
  }
  memcpy(s, p->sbuf, len + 1);
  return s;
}

/* ---- numbers ---- */

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool parse_number(parser *p, rtt_json *v) {
  size_t start = p->pos, i = p->pos;
  const unsigned char *s = p->s;
  if (i < p->len && s[i] == '-') i++;
  if (i >= p->len || !is_digit(s[i])) return fail_unexpected(p, i, "a digit");
  if (s[i] == '0') {
    i++;
    if (i < p->len && is_digit(s[i])) return FAIL_AT(p, i, "leading zero in a number");
  } else {
    while (i < p->len && is_digit(s[i])) i++;
  }
  if (i < p->len && s[i] == '.') {
    i++;
    if (i >= p->len || !is_digit(s[i])) return fail_unexpected(p, i, "a digit after '.'");
    while (i < p->len && is_digit(s[i])) i++;
  }
  if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
    if (i >= p->len || !is_digit(s[i])) return fail_unexpected(p, i, "a digit in the exponent");
    while (i < p->len && is_digit(s[i])) i++;
  }
  size_t n = i - start;
  char *text = arena_alloc(p->doc, n + 1);
  if (!text) return fail_nomem(p);
  memcpy(text, s + start, n);
  text[n] = '\0';
  v->type = RTT_JSON_NUMBER;
  v->u.number.text = text;
  v->u.number.len = n;
  v->u.number.value = strtod(text, NULL);
  p->pos = i;
  return true;
}

/* ---- values ---- */

static bool parse_value(parser *p, rtt_json *v);

static bool literal(parser *p, const char *word, size_t n) {
  for (size_t k = 0; k < n; k++) {
    if (p->pos + k >= p->len || p->s[p->pos + k] != (unsigned char)word[k])
      return FAIL_AT(p, p->pos, "invalid literal (expected '%s')", word);
  }
  p->pos += n;
  return true;
}

static bool enter(parser *p) {
  if (p->depth >= p->max_depth)
    return FAIL_AT(p, p->pos, "nesting deeper than %zu levels", p->max_depth);
  p->depth++;
  return true;
}

static bool parse_array(parser *p, rtt_json *v) {
  if (!enter(p)) return false;
  p->pos++; /* '[' */
  size_t mark = p->n_items;
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == ']') {
    p->pos++;
  } else {
    for (;;) {
      rtt_json item;
      skip_ws(p);
      if (!parse_value(p, &item)) return false;
      if (!grow((void **)&p->items, &p->cap_items, p->n_items, sizeof *p->items))
        return fail_nomem(p);
      p->items[p->n_items++] = item;
      skip_ws(p);
      if (p->pos < p->len && p->s[p->pos] == ',') {
        p->pos++;
        continue;
      }
      if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        break;
      }
      return fail_unexpected(p, p->pos, "',' or ']'");
    }
  }
  size_t n = p->n_items - mark;
  rtt_json *items = NULL;
  if (n) {
    items = arena_alloc(p->doc, n * sizeof *items);
    if (!items) return fail_nomem(p);
    memcpy(items, p->items + mark, n * sizeof *items);
  }
  p->n_items = mark;
  v->type = RTT_JSON_ARRAY;
  v->u.array.items = items;
  v->u.array.n = n;
  p->depth--;
  return true;
}

static bool parse_object(parser *p, rtt_json *v) {
  if (!enter(p)) return false;
  p->pos++; /* '{' */
  size_t mark = p->n_members;
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == '}') {
    p->pos++;
  } else {
    for (;;) {
      skip_ws(p);
      if (p->pos >= p->len || p->s[p->pos] != '"')
        return fail_unexpected(p, p->pos, "a member name (a string)");
      rtt_json_member m;
      size_t klen;
      if (!parse_string_bytes(p, &klen)) return false;
      if (!(m.key = keep_sbuf(p, klen))) return false;
      m.key_len = klen;
      skip_ws(p);
      if (p->pos >= p->len || p->s[p->pos] != ':') return fail_unexpected(p, p->pos, "':'");
      p->pos++;
      skip_ws(p);
      if (!parse_value(p, &m.value)) return false;
      if (!grow((void **)&p->members, &p->cap_members, p->n_members, sizeof *p->members))
        return fail_nomem(p);
      p->members[p->n_members++] = m;
      skip_ws(p);
      if (p->pos < p->len && p->s[p->pos] == ',') {
        p->pos++;
        continue;
      }
      if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        break;
      }
      return fail_unexpected(p, p->pos, "',' or '}'");
    }
  }
  size_t n = p->n_members - mark;
  rtt_json_member *members = NULL;
  if (n) {
    members = arena_alloc(p->doc, n * sizeof *members);
    if (!members) return fail_nomem(p);
    memcpy(members, p->members + mark, n * sizeof *members);
  }
  p->n_members = mark;
  v->type = RTT_JSON_OBJECT;
  v->u.object.members = members;
  v->u.object.n = n;
  p->depth--;
  return true;
}

static bool parse_value(parser *p, rtt_json *v) {
  memset(v, 0, sizeof *v);
  if (p->pos >= p->len) return fail_unexpected(p, p->pos, "a value");
  switch (p->s[p->pos]) {
    case '{': return parse_object(p, v);
    case '[': return parse_array(p, v);
    case '"': {
      size_t len;
      if (!parse_string_bytes(p, &len)) return false;
      const char *s = keep_sbuf(p, len);
      if (!s) return false;
      v->type = RTT_JSON_STRING;
      v->u.string.s = s;
      v->u.string.len = len;
      return true;
    }
    case 't':
      v->type = RTT_JSON_BOOL;
      v->u.boolean = true;
      return literal(p, "true", 4);
    case 'f':
      v->type = RTT_JSON_BOOL;
      v->u.boolean = false;
      return literal(p, "false", 5);
    case 'n': v->type = RTT_JSON_NULL; return literal(p, "null", 4);
    default:
      if (p->s[p->pos] == '-' || is_digit(p->s[p->pos])) return parse_number(p, v);
      return fail_unexpected(p, p->pos, "a value");
  }
}

/* Line and column of byte `offset`. */
static void locate(const unsigned char *s, size_t len, size_t offset, rtt_json_error *err) {
  size_t line = 1, line_start = 0;
  if (offset > len) offset = len;
  for (size_t i = 0; i < offset; i++) {
    if (s[i] == '\n') {
      line++;
      line_start = i + 1;
    }
  }
  err->offset = offset;
  err->line = line;
  err->column = offset - line_start + 1;
}

int rtt_json_parse(const char *text, size_t len, size_t max_depth, rtt_json_doc **out,
                   rtt_json_error *err) {
  if (err) memset(err, 0, sizeof *err);
  if (!out || (!text && len)) {
    if (err) snprintf(err->message, sizeof err->message, "invalid arguments");
    return RTT_JSON_ESYNTAX;
  }
  parser p;
  memset(&p, 0, sizeof p);
  p.s = (const unsigned char *)(text ? text : "");
  p.len = len;
  p.max_depth = max_depth ? max_depth : RTT_JSON_DEFAULT_MAX_DEPTH;
  p.err = err;
  p.doc = calloc(1, sizeof *p.doc);
  if (!p.doc) {
    if (err) snprintf(err->message, sizeof err->message, "out of memory");
    return RTT_JSON_ENOMEM;
  }
  skip_ws(&p);
  if (p.pos >= p.len) {
    report_at(&p, p.pos, "no value (empty input)");
  } else if (parse_value(&p, &p.doc->root)) {
    skip_ws(&p);
    if (p.pos < p.len) fail_unexpected(&p, p.pos, "the end of input after the value");
  }
  free(p.items);
  free(p.members);
  free(p.sbuf);
  if (p.code) {
    if (err) locate(p.s, p.len, err->offset, err);
    rtt_json_doc_free(p.doc);
    return p.code;
  }
  *out = p.doc;
  return RTT_JSON_OK;
}

/* ---- reading helpers ---- */

const rtt_json *rtt_json_get(const rtt_json *v, const char *key) {
  if (!v || v->type != RTT_JSON_OBJECT) return NULL;
  size_t klen = strlen(key);
  for (size_t i = v->u.object.n; i-- > 0;) {
    const rtt_json_member *m = &v->u.object.members[i];
    if (m->key_len == klen && memcmp(m->key, key, klen) == 0) return &m->value;
  }
  return NULL;
}

size_t rtt_json_array_len(const rtt_json *v) {
  return v && v->type == RTT_JSON_ARRAY ? v->u.array.n : 0;
}

const rtt_json *rtt_json_at(const rtt_json *v, size_t i) {
  if (!v || v->type != RTT_JSON_ARRAY || i >= v->u.array.n) return NULL;
  return &v->u.array.items[i];
}

const char *rtt_json_str(const rtt_json *v) {
  return v && v->type == RTT_JSON_STRING ? v->u.string.s : NULL;
}

/* The digits of an integer: a string of decimal digits with an optional
 * '-', or a number without fraction or exponent. */
static bool integer_text(const rtt_json *v, const char **s, size_t *n) {
  if (!v) return false;
  if (v->type == RTT_JSON_STRING) {
    *s = v->u.string.s;
    *n = v->u.string.len;
  } else if (v->type == RTT_JSON_NUMBER) {
    *s = v->u.number.text;
    *n = v->u.number.len;
  } else {
    return false;
  }
  size_t i = *n && (*s)[0] == '-' ? 1 : 0;
  if (i == *n) return false;
  for (; i < *n; i++)
    if (!is_digit((unsigned char)(*s)[i])) return false;
  return true;
}

/* Decimal digits d[0..n) as a value <= max. */
static bool digits_value(const char *d, size_t n, uint64_t max, uint64_t *out) {
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t digit = (uint64_t)(d[i] - '0');
    if (x > (max - digit) / 10) return false;
    x = x * 10 + digit;
  }
  *out = x;
  return true;
}

bool rtt_json_u64(const rtt_json *v, uint64_t *out) {
  const char *s;
  size_t n;
  if (!integer_text(v, &s, &n) || s[0] == '-') return false;
  return digits_value(s, n, UINT64_MAX, out);
}

bool rtt_json_i64(const rtt_json *v, int64_t *out) {
  const char *s;
  size_t n;
  if (!integer_text(v, &s, &n)) return false;
  uint64_t x;
  if (s[0] == '-') {
    if (!digits_value(s + 1, n - 1, (uint64_t)INT64_MAX + 1, &x)) return false;
    *out = x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x;
  } else {
    if (!digits_value(s, n, INT64_MAX, &x)) return false;
    *out = (int64_t)x;
  }
  return true;
}

size_t rtt_utf8_next(const char *s, uint32_t *cp) {
  const unsigned char *u = (const unsigned char *)s;
  *cp = 0;
  if (!u[0]) return 0;
  if (u[0] < 0x80) {
    *cp = u[0];
    return 1;
  }
  /* utf8_len reads no further than a NUL: a NUL is never a continuation. */
  size_t k = 1;
  while (k < 4 && u[k] >= 0x80 && u[k] <= 0xBF) k++;
  size_t n = utf8_len(u, k);
  if (!n) return 0;
  uint32_t v = u[0] & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (size_t i = 1; i < n; i++) v = v << 6 | (u[i] & 0x3F);
  *cp = v;
  return n;
}
