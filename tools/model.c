/* Spans of OTLP/JSON lines grouped into traces and laid out (see model.h). */
#include "model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX
#define MAX_WARNINGS 20

struct rtt_model {
  rtt_json_doc **docs; /* every line's document: spans point into them */
  size_t n_docs, cap_docs;
  rtt_span *spans; /* input order; not moved once finished */
  size_t n_spans, cap_spans;
  char **strings; /* lowercase id copies */
  size_t n_strings, cap_strings;
  bool finished;
  rtt_trace *traces;
  size_t n_traces;
  rtt_span **order;      /* every trace's spans in tree order, one after the other */
  const char **services; /* every trace's services, one after the other */
};

static bool grow(void **arr, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return true;
  size_t ncap = *cap ? *cap * 2 : 16;
  if (ncap > SIZE_MAX / size) return false;
  void *q = realloc(*arr, ncap * size);
  if (!q) return false;
  *arr = q;
  *cap = ncap;
  return true;
}

int rtt_model_new(rtt_model **out) {
  rtt_model *m = calloc(1, sizeof *m);
  if (!m) return -1;
  *out = m;
  return 0;
}

void rtt_model_del(rtt_model *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n_docs; i++) rtt_json_doc_free(m->docs[i]);
  for (size_t i = 0; i < m->n_strings; i++) free(m->strings[i]);
  free(m->docs);
  free(m->strings);
  free(m->spans);
  free(m->traces);
  free(m->order);
  free(m->services);
  free(m);
}

const char *rtt_kind_name(int kind) {
  static const char *const names[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
                                      "CLIENT",      "PRODUCER", "CONSUMER"};
  return kind >= 0 && kind <= 5 ? names[kind] : names[0];
}

/* ---- reading one request ---- */

/* A field by its JSON name, else by its proto name. */
static const rtt_json *field(const rtt_json *o, const char *camel, const char *snake) {
  const rtt_json *v = rtt_json_get(o, camel);
  return v ? v : snake ? rtt_json_get(o, snake) : NULL;
}

static const char *string_or_empty(const rtt_json *v) {
  const char *s = rtt_json_str(v);
  return s ? s : "";
}

/* A lowercase copy kept by the model; NULL when out of memory. */
static const char *keep_lower(rtt_model *m, const char *s) {
  if (!grow((void **)&m->strings, &m->cap_strings, m->n_strings, sizeof *m->strings)) return NULL;
  size_t n = strlen(s);
  char *c = malloc(n + 1);
  if (!c) return NULL;
  for (size_t i = 0; i <= n; i++)
    c[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
  m->strings[m->n_strings++] = c;
  return c;
}

/* An enum given as a number or as its name (with or without `prefix`). */
static int enum_value(const rtt_json *v, const char *prefix, const char *const *names, int n) {
  int64_t x;
  if (rtt_json_i64(v, &x)) return x >= 0 && x <= 1000 ? (int)x : 0;
  const char *s = rtt_json_str(v);
  if (!s) return 0;
  size_t plen = strlen(prefix);
  if (strncmp(s, prefix, plen) == 0) s += plen;
  for (int i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return 0;
}

static uint64_t u64_or_zero(const rtt_json *v) {
  uint64_t x;
  return rtt_json_u64(v, &x) ? x : 0;
}

/* service.name among the resource's attributes, or "". */
static const char *service_of(const rtt_json *resource) {
  const rtt_json *attrs = rtt_json_get(resource, "attributes");
  const char *found = "";
  for (size_t i = 0; i < rtt_json_array_len(attrs); i++) {
    const rtt_json *kv = rtt_json_at(attrs, i);
    const char *key = rtt_json_str(rtt_json_get(kv, "key"));
    if (!key || strcmp(key, "service.name") != 0) continue;
    const rtt_json *value = rtt_json_get(kv, "value");
    const char *s = rtt_json_str(field(value, "stringValue", "string_value"));
    if (s) found = s;
  }
  return found;
}

static int add_span(rtt_model *m, const rtt_json *js, const rtt_json *resource, const char *service,
                    const rtt_json *scope, size_t line_no) {
  static const char *const kinds[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
                                      "CLIENT",      "PRODUCER", "CONSUMER"};
  static const char *const codes[] = {"UNSET", "OK", "ERROR"};
  if (!grow((void **)&m->spans, &m->cap_spans, m->n_spans, sizeof *m->spans)) return -1;
  rtt_span s;
  memset(&s, 0, sizeof s);
  s.trace_id = keep_lower(m, string_or_empty(field(js, "traceId", "trace_id")));
  s.span_id = keep_lower(m, string_or_empty(field(js, "spanId", "span_id")));
  s.parent_id = keep_lower(m, string_or_empty(field(js, "parentSpanId", "parent_span_id")));
  if (!s.trace_id || !s.span_id || !s.parent_id) return -1;
  s.name = string_or_empty(rtt_json_get(js, "name"));
  s.kind = enum_value(rtt_json_get(js, "kind"), "SPAN_KIND_", kinds, 6);
  s.start_ns = u64_or_zero(field(js, "startTimeUnixNano", "start_time_unix_nano"));
  s.end_ns = u64_or_zero(field(js, "endTimeUnixNano", "end_time_unix_nano"));
  if (s.end_ns < s.start_ns) s.end_ns = s.start_ns;
  const rtt_json *status = rtt_json_get(js, "status");
  s.status_code = enum_value(rtt_json_get(status, "code"), "STATUS_CODE_", codes, 3);
  s.status_message = string_or_empty(rtt_json_get(status, "message"));
  s.service = service;
  s.json = js;
  s.resource = resource;
  s.scope = scope;
  s.line = line_no;
  m->spans[m->n_spans++] = s;
  return 0;
}

/* The spans of request `root`; -1 out of memory, -2 not a request. */
static int add_request(rtt_model *m, const rtt_json *root, size_t line_no, size_t *added) {
  const rtt_json *rs_list = field(root, "resourceSpans", "resource_spans");
  if (!rs_list || rs_list->type != RTT_JSON_ARRAY) return -2;
  for (size_t i = 0; i < rtt_json_array_len(rs_list); i++) {
    const rtt_json *rs = rtt_json_at(rs_list, i);
    const rtt_json *resource = rtt_json_get(rs, "resource");
    if (resource && resource->type != RTT_JSON_OBJECT) resource = NULL;
    const char *service = service_of(resource);
    const rtt_json *ss_list = field(rs, "scopeSpans", "scope_spans");
    if (!ss_list)
      ss_list = field(rs, "instrumentationLibrarySpans", "instrumentation_library_spans");
    for (size_t j = 0; j < rtt_json_array_len(ss_list); j++) {
      const rtt_json *ss = rtt_json_at(ss_list, j);
      const rtt_json *scope = rtt_json_get(ss, "scope");
      if (!scope) scope = field(ss, "instrumentationLibrary", "instrumentation_library");
      if (scope && scope->type != RTT_JSON_OBJECT) scope = NULL;
      const rtt_json *spans = rtt_json_get(ss, "spans");
      for (size_t k = 0; k < rtt_json_array_len(spans); k++) {
        const rtt_json *js = rtt_json_at(spans, k);
        if (js->type != RTT_JSON_OBJECT) continue;
        if (add_span(m, js, resource, service, scope, line_no) != 0) return -1;
        (*added)++;
      }
    }
  }
  return 0;
}

int rtt_model_add_line(rtt_model *m, const char *text, size_t len, size_t line_no, size_t *n_spans,
                       char *why, size_t why_size) {
  if (n_spans) *n_spans = 0;
  if (why_size) why[0] = '\0';
  if (m->finished) return RTT_LINE_NO_MEMORY;
  if (!grow((void **)&m->docs, &m->cap_docs, m->n_docs, sizeof *m->docs)) {
    if (why_size) snprintf(why, why_size, "out of memory");
    return RTT_LINE_NO_MEMORY;
  }
  rtt_json_doc *doc = NULL;
  rtt_json_error err;
  int r = rtt_json_parse(text, len, 0, &doc, &err);
  if (r == RTT_JSON_ENOMEM) {
    if (why_size) snprintf(why, why_size, "out of memory");
    return RTT_LINE_NO_MEMORY;
  }
  if (r != RTT_JSON_OK) {
    if (why_size) snprintf(why, why_size, "invalid JSON (column %zu: %s)", err.column, err.message);
    return RTT_LINE_BAD_JSON;
  }
  /* Kept from here on, even if adding fails half-way: the spans added
   * point into it. */
  m->docs[m->n_docs++] = doc;
  size_t added = 0;
  r = add_request(m, rtt_json_root(doc), line_no, &added);
  if (n_spans) *n_spans = added;
  if (r == -1) {
    if (why_size) snprintf(why, why_size, "out of memory");
    return RTT_LINE_NO_MEMORY;
  }
  if (r == -2) {
    if (why_size) snprintf(why, why_size, "not an OTLP trace request (no \"resourceSpans\" array)");
    return RTT_LINE_NOT_OTLP;
  }
  return RTT_LINE_OK;
}

/* ---- layout ---- */

typedef struct node {
  size_t parent; /* in the tree (NONE: top level) */
  size_t first_child, last_child, next_sibling;
  bool visited;
} node;

typedef struct by_trace {
  rtt_span *s;
  size_t seq;
} by_trace;

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

static int cmp_by_trace(const void *pa, const void *pb) {
  const by_trace *a = pa, *b = pb;
  int c = strcmp(a->s->trace_id, b->s->trace_id);
  if (c) return c;
  c = cmp_u64(a->s->start_ns, b->s->start_ns);
  if (c) return c;
  return cmp_u64(a->seq, b->seq);
}

/* Index entries of one trace, by span id then input order. */
typedef struct by_id {
  const char *id;
  size_t at; /* index in the trace's start-ordered run */
} by_id;

static int cmp_by_id(const void *pa, const void *pb) {
  const by_id *a = pa, *b = pb;
  int c = strcmp(a->id, b->id);
  return c ? c : cmp_u64(a->at, b->at);
}

/* The first entry of ids[0..n) with id `id`, or NONE. */
static size_t find_id(const by_id *ids, size_t n, const char *id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(ids[mid].id, id) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && strcmp(ids[lo].id, id) == 0 ? ids[lo].at : NONE;
}

static void add_child(node *nodes, size_t parent, size_t child) {
  nodes[child].parent = parent;
  nodes[child].next_sibling = NONE;
  if (nodes[parent].first_child == NONE)
    nodes[parent].first_child = child;
  else
    nodes[nodes[parent].last_child].next_sibling = child;
  nodes[parent].last_child = child;
}

/* Append the subtree of `root` (depth first) to out[*n...]. Iterative:
 * a chain of any length costs no stack. */
static void walk(node *nodes, rtt_span *const *run, size_t root, rtt_span **out, size_t *n) {
  size_t cur = root;
  unsigned depth = 0;
  for (;;) {
    nodes[cur].visited = true;
    run[cur]->depth = depth;
    out[(*n)++] = run[cur];
    if (nodes[cur].first_child != NONE) {
      cur = nodes[cur].first_child;
      depth++;
      continue;
    }
    while (cur != root && nodes[cur].next_sibling == NONE) {
      cur = nodes[cur].parent;
      depth--;
    }
    if (cur == root) break;
    cur = nodes[cur].next_sibling;
  }
}

/* Detach `child` from its parent's list of children. */
static void detach(node *nodes, size_t child) {
  size_t p = nodes[child].parent;
  size_t prev = NONE;
  for (size_t c = nodes[p].first_child; c != child; c = nodes[c].next_sibling) prev = c;
  size_t next = nodes[child].next_sibling;
  if (prev == NONE)
    nodes[p].first_child = next;
  else
    nodes[prev].next_sibling = next;
  if (nodes[p].last_child == child) nodes[p].last_child = prev;
  nodes[child].parent = NONE;
  nodes[child].next_sibling = NONE;
}

/* Lay out one trace: run[0..n) are its spans by start time; the tree order
 * goes to out[0..n). nodes and ids are scratch of n entries. */
static void layout_trace(rtt_span *const *run, size_t n, node *nodes, by_id *ids, rtt_span **out) {
  for (size_t i = 0; i < n; i++) {
    nodes[i] = (node){NONE, NONE, NONE, NONE, false};
    ids[i] = (by_id){run[i]->span_id, i};
  }
  qsort(ids, n, sizeof *ids, cmp_by_id);
  size_t first_root = NONE, last_root = NONE;
  for (size_t i = 0; i < n; i++) {
    rtt_span *s = run[i];
    size_t p = NONE;
    if (s->parent_id[0]) {
      p = find_id(ids, n, s->parent_id);
      if (p == NONE || p == i) {
        s->orphan = p == NONE;
        s->cycle = p == i;
        p = NONE;
      }
    }
    if (p != NONE) {
      add_child(nodes, p, i);
    } else {
      /* Top-level spans are chained as siblings with no parent. */
      if (first_root == NONE)
        first_root = i;
      else
        nodes[last_root].next_sibling = i;
      last_root = i;
    }
  }
  size_t done = 0;
  for (size_t r = first_root; r != NONE;) {
    size_t next = nodes[r].next_sibling;
    nodes[r].next_sibling = NONE; /* walk() must not go on to the next root */
    walk(nodes, run, r, out, &done);
    r = next;
  }
  /* What is left hangs off a cycle of parent links. Each time: from the
   * earliest such span, climb parents until they repeat (Floyd: slow and
   * fast meet on the cycle), cut the cycle at its earliest span, and walk
   * from there, which covers the whole rest of that component. */
  for (size_t i = 0; i < n && done < n; i++) {
    if (nodes[i].visited) continue;
    size_t slow = i, fast = i;
    do {
      slow = nodes[slow].parent;
      fast = nodes[nodes[fast].parent].parent;
    } while (slow != fast);
    size_t cut = slow; /* run is in start order: the lowest index is earliest */
    for (size_t c = nodes[slow].parent; c != slow; c = nodes[c].parent)
      if (c < cut) cut = c;
    detach(nodes, cut);
    run[cut]->cycle = true;
    walk(nodes, run, cut, out, &done);
  }
  /* Every span is placed by now; should one not be, it still gets a line
   * rather than a hole in the output. */
  for (size_t i = 0; i < n && done < n; i++)
    if (!nodes[i].visited) {
      nodes[i].visited = true;
      run[i]->depth = 0;
      out[done++] = run[i];
    }
}

static int cmp_trace(const void *pa, const void *pb) {
  const rtt_trace *a = pa, *b = pb;
  int c = cmp_u64(a->start_ns, b->start_ns);
  return c ? c : strcmp(a->trace_id, b->trace_id);
}

int rtt_model_finish(rtt_model *m) {
  if (m->finished) return 0;
  size_t n = m->n_spans;
  by_trace *sorted = calloc(n ? n : 1, sizeof *sorted);
  rtt_span **run = calloc(n ? n : 1, sizeof *run);
  node *nodes = calloc(n ? n : 1, sizeof *nodes);
  by_id *ids = calloc(n ? n : 1, sizeof *ids);
  m->order = calloc(n ? n : 1, sizeof *m->order);
  m->services = calloc(n ? n : 1, sizeof *m->services);
  m->traces = calloc(n ? n : 1, sizeof *m->traces);
  if (!sorted || !run || !nodes || !ids || !m->order || !m->services || !m->traces) {
    free(sorted);
    free(run);
    free(nodes);
    free(ids);
    free(m->order);
    free(m->services);
    free(m->traces);
    m->order = NULL;
    m->services = NULL;
    m->traces = NULL;
    return -1;
  }
  m->finished = true;
  for (size_t i = 0; i < n; i++) sorted[i] = (by_trace){&m->spans[i], i};
  qsort(sorted, n, sizeof *sorted, cmp_by_trace);
  size_t n_services = 0;
  for (size_t a = 0; a < n;) {
    size_t b = a + 1;
    while (b < n && strcmp(sorted[b].s->trace_id, sorted[a].s->trace_id) == 0) b++;
    size_t count = b - a;
    for (size_t k = 0; k < count; k++) run[k] = sorted[a + k].s;
    rtt_trace *t = &m->traces[m->n_traces++];
    t->trace_id = run[0]->trace_id;
    t->spans = m->order + a;
    t->n_spans = count;
    layout_trace(run, count, nodes, ids, t->spans);
    t->services = m->services + n_services;
    bool any_time = false;
    for (size_t k = 0; k < count; k++) {
      const rtt_span *s = t->spans[k];
      if (!s) continue; /* never: layout_trace places every span */
      if (s->status_code == 2) t->error = true;
      if (s->start_ns) {
        if (!any_time || s->start_ns < t->start_ns) t->start_ns = s->start_ns;
        if (!any_time || s->end_ns > t->end_ns) t->end_ns = s->end_ns;
        any_time = true;
      }
      if (!s->service[0]) continue;
      bool seen = false;
      /* services[0..n_services) were all set just below; the analyzer
       * loses that and sees calloc's zeros. */
      for (size_t q = 0; q < t->n_services && !seen; q++)
        // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
        seen = strcmp(t->services[q], s->service) == 0;
      if (!seen) {
        m->services[n_services++] = s->service;
        t->n_services++;
      }
    }
    a = b;
  }
  qsort(m->traces, m->n_traces, sizeof *m->traces, cmp_trace);
  free(sorted);
  free(run);
  free(nodes);
  free(ids);
  return 0;
}

size_t rtt_model_span_count(const rtt_model *m) { return m->n_spans; }
size_t rtt_model_trace_count(const rtt_model *m) { return m->n_traces; }

const rtt_trace *rtt_model_trace(const rtt_model *m, size_t i) {
  return i < m->n_traces ? &m->traces[i] : NULL;
}

const rtt_trace *rtt_model_find(const rtt_model *m, const char *trace_id) {
  for (size_t i = 0; i < m->n_traces; i++) {
    const char *a = m->traces[i].trace_id, *b = trace_id;
    while (*a && *b) {
      char cb = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
      if (*a != cb) break;
      a++;
      b++;
    }
    if (!*a && !*b) return &m->traces[i];
  }
  return NULL;
}

/* ---- files ---- */

/* The whole stream into memory; NULL (errno set) on failure. */
static char *slurp(FILE *f, size_t *len) {
  size_t cap = 64 * 1024, n = 0;
  char *buf = malloc(cap);
  if (!buf) return NULL;
  for (;;) {
    if (n == cap) {
      if (cap > SIZE_MAX / 2) {
        free(buf);
        errno = ENOMEM;
        return NULL;
      }
      char *q = realloc(buf, cap * 2);
      if (!q) {
        free(buf);
        errno = ENOMEM;
        return NULL;
      }
      buf = q;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) {
      if (ferror(f)) {
        int e = errno ? errno : EIO;
        free(buf);
        errno = e;
        return NULL;
      }
      break;
    }
  }
  *len = n;
  return buf;
}

static bool blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return false;
  return true;
}

/* Bad lines remembered until the end, when it is known whether the file
 * was read line by line after all. */
typedef struct warning {
  size_t line;
  char why[160];
} warning;

int rtt_model_load_file(rtt_model *m, const char *path, FILE *warn, const char *prog,
                        rtt_load_stats *st) {
  rtt_load_stats local;
  if (!st) st = &local;
  memset(st, 0, sizeof *st);
  bool is_stdin = strcmp(path, "-") == 0;
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  if (!f) return -1;
  size_t len = 0;
  char *text = slurp(f, &len);
  int saved = errno;
  if (!is_stdin) fclose(f);
  if (!text) {
    errno = saved;
    return saved == ENOMEM ? -2 : -1;
  }
  size_t start = 0;
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) start = 3;
  warning warnings[MAX_WARNINGS];
  size_t n_warnings = 0;
  size_t line_no = 0;
  int result = 0;
  for (size_t pos = start; pos < len;) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len;
    line_no++;
    const char *line = text + pos;
    size_t n = end - pos;
    pos = nl ? end + 1 : len;
    if (n && line[n - 1] == '\r') n--;
    if (blank(line, n)) continue;
    size_t spans = 0;
    char why[160];
    int r = rtt_model_add_line(m, line, n, line_no, &spans, why, sizeof why);
    st->spans += spans;
    if (r == RTT_LINE_NO_MEMORY) {
      result = -2;
      break;
    }
    if (r == RTT_LINE_OK) {
      st->lines_ok++;
      continue;
    }
    if (n_warnings < MAX_WARNINGS) {
      warnings[n_warnings].line = line_no;
      snprintf(warnings[n_warnings].why, sizeof warnings[n_warnings].why, "%s", why);
      n_warnings++;
    }
    st->lines_bad++;
  }
  /* No line was a request: perhaps one request printed over many lines. */
  if (result == 0 && st->lines_ok == 0 && st->lines_bad > 1) {
    size_t spans = 0;
    if (rtt_model_add_line(m, text + start, len - start, 1, &spans, NULL, 0) == RTT_LINE_OK) {
      st->lines_ok = 1;
      st->lines_bad = 0;
      st->spans = spans;
      n_warnings = 0;
    }
  }
  if (warn) {
    for (size_t i = 0; i < n_warnings; i++)
      fprintf(warn, "%s: %s:%zu: %s\n", prog, path, warnings[i].line, warnings[i].why);
    if (st->lines_bad > n_warnings)
      fprintf(warn, "%s: %s: %zu more bad lines not shown\n", prog, path,
              st->lines_bad - n_warnings);
  }
  free(text);
  return result;
}
