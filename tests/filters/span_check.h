/*
 * What the filter tests expect of the spans of a set of RPCs, checked the
 * same way whichever route the spans took: read from rpctrace's memory
 * exporter in a program linked with rpctrace::wrap, from the OTLP/JSON
 * lines file a preloaded program wrote, or from the lines the test OTLP
 * collector printed. No rpctrace header is used here: spans arrive as
 * plain text (ids in lowercase hex, OTLP kinds and status codes).
 *
 * Text formats (one record per line, fields separated by tabs, strings
 * percent-encoded so they hold no tab, newline or '%'; an empty string is "%"):
 *   span  <trace> <span> <parent> <kind> <status> <name> <status msg>
 *         <n attrs> then per attribute <key> <s|i|b|d> <value>
 *   rpc   the fields of sc_rpc in declaration order
 *
 * Not thread-safe: one thread.
 */
#ifndef RPCT_FILTERS_SPAN_CHECK_H
#define RPCT_FILTERS_SPAN_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SC_TEXT 256
#define SC_MAX_ATTRS 48

/* OTLP values. */
#define SC_KIND_SERVER 2
#define SC_KIND_CLIENT 3
#define SC_STATUS_UNSET 0
#define SC_STATUS_OK 1
#define SC_STATUS_ERROR 2

typedef struct sc_attr {
  char key[96];
  char type; /* 's' string, 'i' int, 'b' bool, 'd' double, 'a' string[] (elements joined by ',') */
  char value[SC_TEXT];
} sc_attr;

typedef struct sc_span {
  char trace_id[33];
  char span_id[17];
  char parent_id[17]; /* "" for a root */
  int kind;
  int status;
  char name[SC_TEXT];
  char status_msg[SC_TEXT];
  int n_attrs;
  sc_attr attrs[SC_MAX_ATTRS];
} sc_span;

typedef struct sc_spans {
  sc_span *v;
  size_t n, cap;
} sc_spans;

/* One RPC and what its spans must show. */
typedef struct sc_rpc {
  char id[SC_TEXT];          /* its x-test-id (rpc.grpc.request.metadata.x-test-id) */
  char name[SC_TEXT];        /* span name, "test.Echo/Unary" */
  int port;                  /* server.port (server.address is 127.0.0.1) */
  int traced;                /* 0: no span may carry this id */
  int client_code;           /* the status the client received */
  char client_msg[SC_TEXT];  /* and its message */
  int check_client_msg;      /* the client span's status message must equal it */
  int server_code;           /* the status the handler sent; -1: not checked */
  char server_msg[SC_TEXT];
  int server_root;           /* the server span is a new root (bad inbound traceparent) */
  char traceparent[SC_TEXT]; /* what the server received ("" none): names the client span */
  char parent_rpc[SC_TEXT];  /* "" or the RPC whose server span is this client span's parent */
  char client_span[17];      /* "" or the client span id the program saw (rpct_call_span_context) */
  /* 0: the server span may lack server.address/server.port (exact when
   * present): a call accepted as a registered method, for which gRPC core's
   * API gives no :authority. */
  int server_authority;
} sc_rpc;

typedef struct sc_rpcs {
  sc_rpc *v;
  size_t n, cap;
} sc_rpcs;

sc_span *sc_spans_add(sc_spans *s);
sc_rpc *sc_rpcs_add(sc_rpcs *r);
void sc_spans_free(sc_spans *s);
void sc_rpcs_free(sc_rpcs *r);

/* Attribute setters for building a span. */
void sc_span_attr(sc_span *s, const char *key, char type, const char *value);
const sc_attr *sc_span_find(const sc_span *s, const char *key);

/* Write / read the text formats. Reading returns 0, or -1 with a message on
 * stderr naming the file and line. */
void sc_write_span(FILE *f, const sc_span *s);
void sc_write_rpc(FILE *f, const sc_rpc *r);
int sc_read_file(const char *path, sc_spans *spans, sc_rpcs *rpcs);

/* Read every span of an OTLP/JSON lines file (otlp_json_read.c). */
int sc_read_otlp_json(const char *path, sc_spans *spans);

/* Check `spans` against `rpcs` (both must be exact: every span must belong
 * to one of the RPCs). Each problem is reported on `report`, one line each.
 * Returns the number of problems. */
int sc_check(const sc_spans *spans, const sc_rpcs *rpcs, FILE *report);

/* Is `code` an error on the server side (DESIGN.md)? */
bool sc_server_error(int code);

#endif /* RPCT_FILTERS_SPAN_CHECK_H */
