/* Spans of RPCs, as text, and the checks on them (see span_check.h). */
#include "span_check.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define X_TEST_ID "rpc.grpc.request.metadata.x-test-id"
#define EXPORT_SPAN "opentelemetry.proto.collector.trace.v1.TraceService/Export"

static void *grow(void *v, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return v;
  size_t c = *cap ? 2 * *cap : 64;
  void *p = realloc(v, c * size);
  if (!p) {
    fputs("span_check: out of memory\n", stderr);
    abort();
  }
  *cap = c;
  return p;
}

sc_span *sc_spans_add(sc_spans *s) {
  s->v = grow(s->v, &s->cap, s->n, sizeof *s->v);
  sc_span *x = &s->v[s->n++];
  memset(x, 0, sizeof *x);
  return x;
}

sc_rpc *sc_rpcs_add(sc_rpcs *r) {
  r->v = grow(r->v, &r->cap, r->n, sizeof *r->v);
  sc_rpc *x = &r->v[r->n++];
  memset(x, 0, sizeof *x);
  x->traced = 1;
  x->server_code = -1;
  x->server_authority = 1;
  return x;
}

void sc_spans_free(sc_spans *s) {
  free(s->v);
  memset(s, 0, sizeof *s);
}

void sc_rpcs_free(sc_rpcs *r) {
  free(r->v);
  memset(r, 0, sizeof *r);
}

static void set_text(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src); }

void sc_span_attr(sc_span *s, const char *key, char type, const char *value) {
  if (s->n_attrs == SC_MAX_ATTRS) return;
  sc_attr *a = &s->attrs[s->n_attrs++];
  set_text(a->key, sizeof a->key, key);
  a->type = type;
  set_text(a->value, sizeof a->value, value);
}

const sc_attr *sc_span_find(const sc_span *s, const char *key) {
  for (int i = 0; i < s->n_attrs; i++)
    if (strcmp(s->attrs[i].key, key) == 0) return &s->attrs[i];
  return NULL;
}

bool sc_server_error(int code) {
  /* UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS */
  return code == 2 || code == 4 || code == 12 || code == 13 || code == 14 || code == 15;
}

/* ---- text format ---- */

static void put(FILE *f, const char *s) {
  fputc('\t', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c <= ' ' || c == '%' || c == 0x7f)
      fprintf(f, "%%%02X", c);
    else
      fputc(c, f);
  }
}

/* An empty string is written as "%" alone, so fields are never empty. */
static void put_text(FILE *f, const char *s) {
  if (!*s) {
    fputs("\t%", f);
    return;
  }
  put(f, s);
}

void sc_write_span(FILE *f, const sc_span *s) {
  fputs("span", f);
  put_text(f, s->trace_id);
  put_text(f, s->span_id);
  put_text(f, s->parent_id);
  fprintf(f, "\t%d\t%d", s->kind, s->status);
  put_text(f, s->name);
  put_text(f, s->status_msg);
  fprintf(f, "\t%d", s->n_attrs);
  for (int i = 0; i < s->n_attrs; i++) {
    put_text(f, s->attrs[i].key);
    fprintf(f, "\t%c", s->attrs[i].type);
    put_text(f, s->attrs[i].value);
  }
  fputc('\n', f);
}

void sc_write_rpc(FILE *f, const sc_rpc *r) {
  fputs("rpc", f);
  put_text(f, r->id);
  put_text(f, r->name);
  fprintf(f, "\t%d\t%d\t%d", r->port, r->traced, r->client_code);
  put_text(f, r->client_msg);
  fprintf(f, "\t%d\t%d", r->check_client_msg, r->server_code);
  put_text(f, r->server_msg);
  fprintf(f, "\t%d", r->server_root);
  put_text(f, r->traceparent);
  put_text(f, r->parent_rpc);
  put_text(f, r->client_span);
  fprintf(f, "\t%d", r->server_authority);
  fputc('\n', f);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Split `line` in place at tabs into at most `cap` decoded fields. */
static size_t split(char *line, char **fields, size_t cap) {
  size_t n = 0;
  char *p = line;
  while (n < cap) {
    fields[n++] = p;
    char *tab = strchr(p, '\t');
    if (tab) *tab = '\0';
    /* decode in place */
    char *w = fields[n - 1];
    const char *r = w;
    if (strcmp(r, "%") == 0) {
      w[0] = '\0';
    } else {
      while (*r) {
        if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
          *w++ = (char)(hexval(r[1]) * 16 + hexval(r[2]));
          r += 3;
        } else {
          *w++ = *r++;
        }
      }
      *w = '\0';
    }
    if (!tab) break;
    p = tab + 1;
  }
  return n;
}

int sc_read_file(const char *path, sc_spans *spans, sc_rpcs *rpcs) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "span_check: cannot open %s\n", path);
    return -1;
  }
  static char line[1 << 16];
  char *fld[10 + 3 * SC_MAX_ATTRS];
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (!len) continue;
    size_t n = split(line, fld, sizeof fld / sizeof fld[0]);
    if (strcmp(fld[0], "span") == 0) {
      if (!spans) continue;
      if (n < 9) goto bad;
      sc_span *s = sc_spans_add(spans);
      set_text(s->trace_id, sizeof s->trace_id, fld[1]);
      set_text(s->span_id, sizeof s->span_id, fld[2]);
      set_text(s->parent_id, sizeof s->parent_id, fld[3]);
      s->kind = atoi(fld[4]);
      s->status = atoi(fld[5]);
      set_text(s->name, sizeof s->name, fld[6]);
      set_text(s->status_msg, sizeof s->status_msg, fld[7]);
      int na = atoi(fld[8]);
      if (n != 9 + 3 * (size_t)na) goto bad;
      for (int i = 0; i < na; i++)
        sc_span_attr(s, fld[9 + 3 * i], fld[10 + 3 * i][0], fld[11 + 3 * i]);
    } else if (strcmp(fld[0], "rpc") == 0) {
      if (!rpcs) continue;
      if (n != 15) goto bad;
      sc_rpc *r = sc_rpcs_add(rpcs);
      set_text(r->id, sizeof r->id, fld[1]);
      set_text(r->name, sizeof r->name, fld[2]);
      r->port = atoi(fld[3]);
      r->traced = atoi(fld[4]);
      r->client_code = atoi(fld[5]);
      set_text(r->client_msg, sizeof r->client_msg, fld[6]);
      r->check_client_msg = atoi(fld[7]);
      r->server_code = atoi(fld[8]);
      set_text(r->server_msg, sizeof r->server_msg, fld[9]);
      r->server_root = atoi(fld[10]);
      set_text(r->traceparent, sizeof r->traceparent, fld[11]);
      set_text(r->parent_rpc, sizeof r->parent_rpc, fld[12]);
      set_text(r->client_span, sizeof r->client_span, fld[13]);
      r->server_authority = atoi(fld[14]);
    } else {
      continue; /* other lines: port announcements, comments */
    }
    continue;
  bad:
    fprintf(stderr, "span_check: %s:%d: malformed %s line\n", path, lineno, fld[0]);
    rc = -1;
  }
  fclose(f);
  return rc;
}

/* ---- checks ---- */

typedef struct checker {
  FILE *report;
  int problems;
  const char *rpc; /* the RPC being checked, for messages */
} checker;

/* Reported text stays printable: a garbled status message shows as
 * \xNN escapes instead of making the log binary. */
__attribute__((format(printf, 2, 3))) static void problem(checker *c, const char *fmt, ...) {
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(c->report, "FAIL [%s] ", c->rpc ? c->rpc : "-");
  for (const unsigned char *p = (const unsigned char *)line; *p; p++) {
    if (*p < 0x20 || *p >= 0x7f)
      fprintf(c->report, "\\x%02x", *p);
    else
      fputc(*p, c->report);
  }
  fputc('\n', c->report);
  c->problems++;
}

static const char *kind_name(int k) {
  return k == SC_KIND_CLIENT ? "CLIENT" : k == SC_KIND_SERVER ? "SERVER" : "OTHER";
}

static const char *status_name(int s) {
  return s == SC_STATUS_ERROR ? "ERROR" : s == SC_STATUS_OK ? "OK" : "UNSET";
}

static void expect_attr(checker *c, const sc_span *s, const char *key, char type,
                        const char *value) {
  const sc_attr *a = sc_span_find(s, key);
  if (!a) {
    problem(c, "%s span %s: attribute %s missing (want %c:%s)", kind_name(s->kind), s->span_id,
            key, type, value ? value : "<any>");
    return;
  }
  if (a->type != type || (value && strcmp(a->value, value) != 0))
    problem(c, "%s span %s: attribute %s = %c:%s, want %c:%s", kind_name(s->kind), s->span_id, key,
            a->type, a->value, type, value ? value : "<any>");
}

static void expect_attr_int(checker *c, const sc_span *s, const char *key, long v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%ld", v);
  expect_attr(c, s, key, 'i', buf);
}

/* The parts of a "pkg.Service/Method" name. */
static void split_name(const char *name, char *service, char *method) {
  const char *slash = strrchr(name, '/');
  if (!slash) {
    service[0] = '\0';
    set_text(method, SC_TEXT, name);
    return;
  }
  size_t n = (size_t)(slash - name);
  memcpy(service, name, n);
  service[n] = '\0';
  set_text(method, SC_TEXT, slash + 1);
}

static void check_common(checker *c, const sc_rpc *r, const sc_span *s, bool authority) {
  if (strcmp(s->name, r->name) != 0)
    problem(c, "%s span %s: name \"%s\", want \"%s\"", kind_name(s->kind), s->span_id, s->name,
            r->name);
  char service[SC_TEXT], method[SC_TEXT];
  split_name(r->name, service, method);
  expect_attr(c, s, "rpc.system", 's', "grpc");
  expect_attr(c, s, "rpc.service", 's', service);
  expect_attr(c, s, "rpc.method", 's', method);
  if (authority || sc_span_find(s, "server.address"))
    expect_attr(c, s, "server.address", 's', "127.0.0.1");
  if (authority || sc_span_find(s, "server.port")) expect_attr_int(c, s, "server.port", r->port);
  expect_attr(c, s, "network.peer.address", 's', "127.0.0.1");
}

static void check_client(checker *c, const sc_rpc *r, const sc_span *s) {
  check_common(c, r, s, true);
  expect_attr_int(c, s, "rpc.grpc.status_code", r->client_code);
  expect_attr_int(c, s, "network.peer.port", r->port);
  int want = r->client_code == 0 ? SC_STATUS_UNSET : SC_STATUS_ERROR;
  if (s->status != want)
    problem(c, "CLIENT span %s: status %s, want %s (grpc status %d)", s->span_id,
            status_name(s->status), status_name(want), r->client_code);
  else if (want == SC_STATUS_ERROR && r->check_client_msg && strcmp(s->status_msg, r->client_msg))
    problem(c, "CLIENT span %s: status message \"%s\", want \"%s\"", s->span_id, s->status_msg,
            r->client_msg);
  if (r->client_span[0] && strcmp(r->client_span, s->span_id) != 0)
    problem(c, "CLIENT span %s: the program saw span id %s for this call "
            "(rpct_call_span_context)", s->span_id, r->client_span);
}

static void check_server(checker *c, const sc_rpc *r, const sc_span *s) {
  check_common(c, r, s, r->server_authority != 0);
  if (!r->server_authority && !sc_span_find(s, "server.address"))
    fprintf(c->report, "note [%s] SERVER span %s has no server.address (registered method: "
            "no :authority in gRPC core's API)\n", c->rpc, s->span_id);
  expect_attr(c, s, "network.peer.port", 'i', NULL);
  if (r->server_code < 0) {
    expect_attr(c, s, "rpc.grpc.status_code", 'i', NULL);
    const sc_attr *a = sc_span_find(s, "rpc.grpc.status_code");
    if (a && a->type == 'i') {
      int code = atoi(a->value);
      int want = sc_server_error(code) ? SC_STATUS_ERROR : SC_STATUS_UNSET;
      if (s->status != want)
        problem(c, "SERVER span %s: status %s with rpc.grpc.status_code %d, want %s", s->span_id,
                status_name(s->status), code, status_name(want));
    }
    return;
  }
  expect_attr_int(c, s, "rpc.grpc.status_code", r->server_code);
  int want = sc_server_error(r->server_code) ? SC_STATUS_ERROR : SC_STATUS_UNSET;
  if (s->status != want)
    problem(c, "SERVER span %s: status %s, want %s (grpc status %d)", s->span_id,
            status_name(s->status), status_name(want), r->server_code);
  else if (want == SC_STATUS_ERROR && strcmp(s->status_msg, r->server_msg) != 0)
    problem(c, "SERVER span %s: status message \"%s\", want \"%s\"", s->span_id, s->status_msg,
            r->server_msg);
}

/* "00-<trace>-<span>-<flags>" into its ids; false when not that shape. */
static bool parse_traceparent(const char *tp, char trace[33], char span[17]) {
  if (strlen(tp) != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return false;
  memcpy(trace, tp + 3, 32);
  trace[32] = '\0';
  memcpy(span, tp + 36, 16);
  span[16] = '\0';
  return true;
}

int sc_check(const sc_spans *spans, const sc_rpcs *rpcs, FILE *report) {
  checker c = {.report = report};
  bool *used = calloc(spans->n + 1, sizeof *used);
  /* The server span each RPC was matched to, for parent_rpc links. */
  const sc_span **server_of = calloc(rpcs->n + 1, sizeof *server_of);
  if (!used || !server_of) abort();

  for (size_t i = 0; i < spans->n; i++)
    for (size_t j = i + 1; j < spans->n; j++)
      if (strcmp(spans->v[i].span_id, spans->v[j].span_id) == 0 &&
          strcmp(spans->v[i].trace_id, spans->v[j].trace_id) == 0)
        problem(&c, "span %s (%s) reported twice", spans->v[i].span_id, spans->v[i].name);

  for (size_t k = 0; k < rpcs->n; k++) {
    const sc_rpc *r = &rpcs->v[k];
    c.rpc = r->id;
    const sc_span *client = NULL, *server = NULL;
    int n_client = 0, n_server = 0, n_other = 0;
    for (size_t i = 0; i < spans->n; i++) {
      const sc_attr *a = sc_span_find(&spans->v[i], X_TEST_ID);
      if (!a || strcmp(a->value, r->id) != 0) continue;
      used[i] = true;
      if (spans->v[i].kind == SC_KIND_CLIENT)
        client = &spans->v[i], n_client++;
      else if (spans->v[i].kind == SC_KIND_SERVER)
        server = &spans->v[i], n_server++;
      else
        n_other++;
    }
    if (!r->traced) {
      if (n_client + n_server + n_other)
        problem(&c, "untraced RPC has %d client, %d server, %d other spans, want none", n_client,
                n_server, n_other);
      continue;
    }
    if (n_client != 1 || n_server != 1 || n_other) {
      problem(&c, "%d CLIENT, %d SERVER and %d other spans, want exactly one CLIENT and one SERVER",
              n_client, n_server, n_other);
      if (n_client != 1) client = NULL;
      if (n_server != 1) server = NULL;
    }
    server_of[k] = server;
    if (client) check_client(&c, r, client);
    if (server) check_server(&c, r, server);
    if (client && server) {
      if (r->server_root) {
        if (server->parent_id[0])
          problem(&c, "SERVER span %s has parent %s, want a new root", server->span_id,
                  server->parent_id);
        if (strcmp(server->trace_id, client->trace_id) == 0)
          problem(&c, "SERVER span %s continued the client's trace %s, want a new trace",
                  server->span_id, client->trace_id);
      } else {
        if (strcmp(server->trace_id, client->trace_id) != 0)
          problem(&c, "trace ids differ: CLIENT %s, SERVER %s", client->trace_id,
                  server->trace_id);
        if (strcmp(server->parent_id, client->span_id) != 0)
          problem(&c, "SERVER span %s has parent \"%s\", want the CLIENT span %s", server->span_id,
                  server->parent_id, client->span_id);
      }
    }
    if (client && r->traceparent[0] && !r->server_root) {
      char t[33], s[17];
      if (!parse_traceparent(r->traceparent, t, s))
        problem(&c, "the server received traceparent \"%s\", not a version-00 traceparent",
                r->traceparent);
      else if (strcmp(t, client->trace_id) != 0 || strcmp(s, client->span_id) != 0)
        problem(&c, "the server received traceparent %s, but the CLIENT span is %s/%s",
                r->traceparent, client->trace_id, client->span_id);
    }
  }

  /* Parent links between RPCs (a handler's child call), now that every
   * RPC's server span is known. */
  for (size_t k = 0; k < rpcs->n; k++) {
    const sc_rpc *r = &rpcs->v[k];
    c.rpc = r->id;
    if (!r->traced) continue;
    const sc_span *client = NULL;
    for (size_t i = 0; i < spans->n; i++) {
      const sc_attr *a = sc_span_find(&spans->v[i], X_TEST_ID);
      if (a && !strcmp(a->value, r->id) && spans->v[i].kind == SC_KIND_CLIENT) client = &spans->v[i];
    }
    if (!client) continue;
    if (!r->parent_rpc[0]) {
      if (client->parent_id[0])
        problem(&c, "CLIENT span %s has parent %s, want a root", client->span_id,
                client->parent_id);
      continue;
    }
    const sc_span *ps = NULL;
    for (size_t j = 0; j < rpcs->n; j++)
      if (!strcmp(rpcs->v[j].id, r->parent_rpc)) ps = server_of[j];
    if (!ps) {
      problem(&c, "parent RPC %s has no SERVER span to be the parent", r->parent_rpc);
      continue;
    }
    if (strcmp(client->parent_id, ps->span_id) != 0 || strcmp(client->trace_id, ps->trace_id))
      problem(&c, "CLIENT span %s/%s has parent \"%s\", want %s's SERVER span %s/%s",
              client->trace_id, client->span_id, client->parent_id, r->parent_rpc, ps->trace_id,
              ps->span_id);
  }

  c.rpc = NULL;
  for (size_t i = 0; i < spans->n; i++) {
    const sc_span *s = &spans->v[i];
    if (strcmp(s->name, EXPORT_SPAN) == 0)
      problem(&c, "a span of the exporter's own call: %s %s span %s", s->name, kind_name(s->kind),
              s->span_id);
    else if (!used[i])
      problem(&c, "span of no RPC: %s %s trace %s span %s parent \"%s\"", kind_name(s->kind),
              s->name, s->trace_id, s->span_id, s->parent_id);
  }
  free(used);
  free(server_of);
  return c.problems;
}
