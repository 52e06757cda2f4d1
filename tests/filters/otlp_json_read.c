/*
 * Spans from an OTLP/JSON lines file (one ExportTraceServiceRequest per
 * line, the format rpctrace's otlp_file exporter and the Collector's file
 * exporter write), into span_check's model.
 *
 * A purpose-built reader: each line is parsed into a small tree of values
 * (strict JSON; \u escapes decoded to UTF-8, surrogate pairs joined; numbers
 * kept as their text), then resourceSpans[].scopeSpans[].spans[] are read:
 * traceId, spanId, parentSpanId, name, kind, status {code, message} and
 * attributes whose values are string, int (a decimal string or a number),
 * bool or double. Anything else malformed is reported with its line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "span_check.h"

typedef enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
  jtype t;
  bool b;
  char *s;            /* J_STR, J_NUM: NUL-terminated text */
  size_t n;           /* J_ARR, J_OBJ: elements */
  struct jval *items; /* elements (values of an object) */
  char **keys;        /* J_OBJ: keys */
} jval;

typedef struct jparser {
  const char *p, *end;
  const char *err;
} jparser;

static void jfree(jval *v) {
  free(v->s);
  for (size_t i = 0; i < v->n; i++) {
    jfree(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  memset(v, 0, sizeof *v);
}

static void skip_ws(jparser *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) {
    fputs("otlp_json_read: out of memory\n", stderr);
    abort();
  }
  return q;
}

static int hex4(const char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xc0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* A string at j->p (at its opening quote) into a new buffer. */
static char *parse_string(jparser *j) {
  if (j->p >= j->end || *j->p != '"') {
    j->err = "string expected";
    return NULL;
  }
  j->p++;
  size_t cap = 16, len = 0;
  char *out = xrealloc(NULL, cap);
  while (j->p < j->end && *j->p != '"') {
    if (cap - len < 8) out = xrealloc(out, cap *= 2);
    unsigned char c = (unsigned char)*j->p;
    if (c < 0x20) {
      j->err = "control character in string";
      free(out);
      return NULL;
    }
    if (c != '\\') {
      out[len++] = (char)c;
      j->p++;
      continue;
    }
    if (j->end - j->p < 2) break;
    char e = j->p[1];
    j->p += 2;
    switch (e) {
      case '"': out[len++] = '"'; break;
      case '\\': out[len++] = '\\'; break;
      case '/': out[len++] = '/'; break;
      case 'b': out[len++] = '\b'; break;
      case 'f': out[len++] = '\f'; break;
      case 'n': out[len++] = '\n'; break;
      case 'r': out[len++] = '\r'; break;
      case 't': out[len++] = '\t'; break;
      case 'u': {
        int cp = j->end - j->p >= 4 ? hex4(j->p) : -1;
        if (cp < 0) {
          j->err = "bad \\u escape";
          free(out);
          return NULL;
        }
        j->p += 4;
        uint32_t u = (uint32_t)cp;
        if (u >= 0xd800 && u < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' &&
            j->p[1] == 'u') {
          int lo = hex4(j->p + 2);
          if (lo >= 0xdc00 && lo < 0xe000) {
            u = 0x10000 + ((u - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
            j->p += 6;
          }
        }
        len += put_utf8(out + len, u);
        break;
      }
      default:
        j->err = "bad escape";
        free(out);
        return NULL;
    }
  }
  if (j->p >= j->end) {
    j->err = "unterminated string";
    free(out);
    return NULL;
  }
  j->p++;
  out[len] = '\0';
  return out;
}

static bool parse_value(jparser *j, jval *v, int depth);

static bool parse_container(jparser *j, jval *v, int depth, bool object) {
  v->t = object ? J_OBJ : J_ARR;
  j->p++;
  skip_ws(j);
  if (j->p < j->end && *j->p == (object ? '}' : ']')) {
    j->p++;
    return true;
  }
  size_t cap = 0;
  for (;;) {
    if (v->n == cap) {
      cap = cap ? 2 * cap : 4;
      v->items = xrealloc(v->items, cap * sizeof *v->items);
      if (object) v->keys = xrealloc(v->keys, cap * sizeof *v->keys);
    }
    skip_ws(j);
    char *key = NULL;
    if (object) {
      if (!(key = parse_string(j))) return false;
      skip_ws(j);
      if (j->p >= j->end || *j->p != ':') {
        free(key);
        j->err = "':' expected";
        return false;
      }
      j->p++;
    }
    memset(&v->items[v->n], 0, sizeof v->items[v->n]);
    if (object) v->keys[v->n] = key;
    v->n++;
    if (!parse_value(j, &v->items[v->n - 1], depth + 1)) return false;
    skip_ws(j);
    if (j->p < j->end && *j->p == ',') {
      j->p++;
      continue;
    }
    if (j->p < j->end && *j->p == (object ? '}' : ']')) {
      j->p++;
      return true;
    }
    j->err = object ? "',' or '}' expected" : "',' or ']' expected";
    return false;
  }
}

static bool parse_value(jparser *j, jval *v, int depth) {
  if (depth > 64) {
    j->err = "nested too deeply";
    return false;
  }
  skip_ws(j);
  if (j->p >= j->end) {
    j->err = "value expected";
    return false;
  }
  char c = *j->p;
  if (c == '{' || c == '[') return parse_container(j, v, depth, c == '{');
  if (c == '"') {
    v->t = J_STR;
    return (v->s = parse_string(j)) != NULL;
  }
  static const struct {
    const char *word;
    jtype t;
    bool b;
  } words[] = {{"true", J_BOOL, true}, {"false", J_BOOL, false}, {"null", J_NULL, false}};
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(words[i].word);
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, words[i].word, n) == 0) {
      v->t = words[i].t;
      v->b = words[i].b;
      j->p += n;
      return true;
    }
  }
  const char *start = j->p;
  while (j->p < j->end && strchr("+-0123456789.eE", *j->p)) j->p++;
  if (j->p == start) {
    j->err = "unexpected character";
    return false;
  }
  v->t = J_NUM;
  size_t n = (size_t)(j->p - start);
  v->s = xrealloc(NULL, n + 1);
  memcpy(v->s, start, n);
  v->s[n] = '\0';
  return true;
}

static const jval *get(const jval *o, const char *key) {
  if (!o || o->t != J_OBJ) return NULL;
  for (size_t i = 0; i < o->n; i++)
    if (strcmp(o->keys[i], key) == 0) return &o->items[i];
  return NULL;
}

static const char *str_or(const jval *v, const char *dflt) {
  return v && (v->t == J_STR || v->t == J_NUM) ? v->s : dflt;
}

static void copy(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src); }

/* One span object into the model; false when a field has the wrong type. */
static bool read_span(const jval *o, sc_spans *out, const char **why) {
  sc_span *s = sc_spans_add(out);
  copy(s->trace_id, sizeof s->trace_id, str_or(get(o, "traceId"), ""));
  copy(s->span_id, sizeof s->span_id, str_or(get(o, "spanId"), ""));
  copy(s->parent_id, sizeof s->parent_id, str_or(get(o, "parentSpanId"), ""));
  copy(s->name, sizeof s->name, str_or(get(o, "name"), ""));
  s->kind = atoi(str_or(get(o, "kind"), "0"));
  const jval *st = get(o, "status");
  if (st) {
    s->status = atoi(str_or(get(st, "code"), "0"));
    copy(s->status_msg, sizeof s->status_msg, str_or(get(st, "message"), ""));
  }
  const jval *attrs = get(o, "attributes");
  if (attrs && attrs->t != J_ARR) {
    *why = "attributes is not an array";
    return false;
  }
  for (size_t i = 0; attrs && i < attrs->n; i++) {
    const jval *a = &attrs->items[i];
    const char *key = str_or(get(a, "key"), NULL);
    const jval *val = get(a, "value");
    if (!key || !val || val->t != J_OBJ) {
      *why = "attribute without key or value";
      return false;
    }
    const jval *x;
    if ((x = get(val, "stringValue")) && x->t == J_STR) {
      sc_span_attr(s, key, 's', x->s);
    } else if ((x = get(val, "intValue")) && (x->t == J_STR || x->t == J_NUM)) {
      sc_span_attr(s, key, 'i', x->s);
    } else if ((x = get(val, "boolValue")) && x->t == J_BOOL) {
      sc_span_attr(s, key, 'b', x->b ? "true" : "false");
    } else if ((x = get(val, "doubleValue")) && (x->t == J_NUM || x->t == J_STR)) {
      sc_span_attr(s, key, 'd', x->s);
    } else if ((x = get(val, "arrayValue")) && x->t == J_OBJ) {
      const jval *vs = get(x, "values");
      char buf[SC_TEXT] = "";
      size_t used = 0;
      for (size_t e = 0; vs && vs->t == J_ARR && e < vs->n && used < sizeof buf; e++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", used ? "," : "",
                                 str_or(get(&vs->items[e], "stringValue"), "?"));
      sc_span_attr(s, key, 'a', buf);
    } else {
      sc_span_attr(s, key, '?', "");
    }
  }
  return true;
}

static bool read_request(const jval *req, sc_spans *out, const char **why) {
  const jval *rs = get(req, "resourceSpans");
  if (!rs || rs->t != J_ARR) {
    *why = "no resourceSpans array";
    return false;
  }
  for (size_t i = 0; i < rs->n; i++) {
    const jval *ss = get(&rs->items[i], "scopeSpans");
    if (!ss) continue;
    if (ss->t != J_ARR) {
      *why = "scopeSpans is not an array";
      return false;
    }
    for (size_t k = 0; k < ss->n; k++) {
      const jval *spans = get(&ss->items[k], "spans");
      if (!spans) continue;
      if (spans->t != J_ARR) {
        *why = "spans is not an array";
        return false;
      }
      for (size_t m = 0; m < spans->n; m++)
        if (!read_span(&spans->items[m], out, why)) return false;
    }
  }
  return true;
}

int sc_read_otlp_json(const char *path, sc_spans *spans) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "otlp_json_read: cannot open %s\n", path);
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int lineno = 0, rc = 0;
  while ((len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    jparser j = {.p = line, .end = line + len};
    skip_ws(&j);
    if (j.p == j.end) continue;
    jval v;
    memset(&v, 0, sizeof v);
    const char *why = NULL;
    if (!parse_value(&j, &v, 0)) {
      why = j.err;
    } else {
      skip_ws(&j);
      if (j.p != j.end) why = "text after the value";
      else read_request(&v, spans, &why);
    }
    if (why) {
      fprintf(stderr, "otlp_json_read: %s:%d: %s (at byte %ld)\n", path, lineno, why,
              (long)(j.p - line));
      rc = -1;
    }
    jfree(&v);
  }
  free(line);
  fclose(f);
  return rc;
}
