/*
 * The spans of OTLP/JSON lines, grouped into traces and laid out as trees:
 * what `rpctrace view` and `rpctrace html` draw.
 *
 * Input: one ExportTraceServiceRequest per line, in the OTLP/JSON encoding
 * (our otlp_file exporter, `rpctrace collect`, the OpenTelemetry
 * Collector's file exporter). Reading is lenient where the encoding allows
 * variants: lowerCamelCase or snake_case field names, 64-bit integers as
 * strings or numbers, enums as integers or names ("SPAN_KIND_SERVER"),
 * the pre-1.0 "instrumentationLibrarySpans". Missing fields read as their
 * defaults. Ids are compared in lowercase.
 *
 * Layout: within a trace, spans are in tree order (depth first, children
 * under their parent, siblings by start time, then by input order). A span
 * whose parent id is not among the trace's spans is shown at the top level
 * as an orphan; spans whose parent links form a cycle are cut at their earliest span,
 * shown at the top level with `cycle` set. Traces are ordered by start time.
 *
 * Thread safety: a model is used by one thread at a time; once finished it
 * may be read from any number of threads.
 */
#ifndef RPCTRACE_TOOLS_MODEL_H
#define RPCTRACE_TOOLS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"

typedef struct rtt_span {
  const char *trace_id;  /* lowercase as read; "" when missing */
  const char *span_id;   /* lowercase; "" when missing */
  const char *parent_id; /* lowercase; "" for a root */
  const char *name;
  int kind;                   /* SpanKind number: 1 INTERNAL .. 5 CONSUMER, 0 unspecified */
  uint64_t start_ns;          /* Unix ns; 0 when missing */
  uint64_t end_ns;            /* Unix ns; never below start_ns */
  int status_code;            /* 0 UNSET, 1 OK, 2 ERROR */
  const char *status_message; /* "" when none */
  const char *service;        /* the resource's service.name; "" when none */
  const rtt_json *json;       /* the Span object (attributes, events, links) */
  const rtt_json *resource;   /* its Resource object, or NULL */
  const rtt_json *scope;      /* its InstrumentationScope object, or NULL */
  size_t line;                /* input line it came from (1-based) */
  /* Layout, set by rtt_model_finish: */
  unsigned depth; /* 0 for the top level */
  bool orphan;    /* parent_id set but no such span in the trace */
  bool cycle;     /* cut out of a parent cycle (top level) */
} rtt_span;

typedef struct rtt_trace {
  const char *trace_id;
  rtt_span **spans; /* tree order */
  size_t n_spans;
  uint64_t start_ns, end_ns; /* earliest start, latest end (spans with times) */
  bool error;                /* some span has status code 2 */
  const char **services;     /* distinct non-empty service names, in tree order */
  size_t n_services;
} rtt_trace;

typedef struct rtt_model rtt_model;

/* Result of adding a line. */
#define RTT_LINE_OK 0
#define RTT_LINE_BAD_JSON (-1) /* not JSON; `why` says where */
#define RTT_LINE_NOT_OTLP (-2) /* JSON, but not an ExportTraceServiceRequest */
#define RTT_LINE_NO_MEMORY (-3)

/* Returns 0, or -1 when out of memory. */
int rtt_model_new(rtt_model **out);
/* NULL accepted. */
void rtt_model_del(rtt_model *m);

/*
 * Parse text[0..len) as one request and add its spans (*n_spans, may be
 * NULL). On failure `why` (why_size bytes, may be 0) holds a message such
 * as "invalid JSON (column 17: unexpected character 'x', expected ...)".
 * Not after rtt_model_finish.
 */
int rtt_model_add_line(rtt_model *m, const char *text, size_t len, size_t line_no, size_t *n_spans,
                       char *why, size_t why_size);

/* Group the spans into traces and lay them out. Once only; 0 or -1 (out of
 * memory). */
int rtt_model_finish(rtt_model *m);

size_t rtt_model_span_count(const rtt_model *m);
size_t rtt_model_trace_count(const rtt_model *m);
const rtt_trace *rtt_model_trace(const rtt_model *m, size_t i);
/* The trace with id `trace_id` (any case), or NULL. */
const rtt_trace *rtt_model_find(const rtt_model *m, const char *trace_id);

/* What rtt_model_load_file read. */
typedef struct rtt_load_stats {
  size_t lines_ok;  /* requests read */
  size_t lines_bad; /* lines that were not requests (reported on `warn`) */
  size_t spans;
} rtt_load_stats;

/*
 * Add every line of the file at `path` ("-": stdin). Blank lines are
 * skipped, a UTF-8 byte order mark at the start ignored. Each bad line is
 * reported on `warn` (NULL: not reported) as "PROG: PATH:LINE: why", the
 * first 20 of them, then how many more there were. A file none of whose
 * lines is a request but which holds one pretty-printed request as a whole
 * is read as that request.
 * Returns 0; -1 when the file cannot be read (errno set); -2 out of memory.
 */
int rtt_model_load_file(rtt_model *m, const char *path, FILE *warn, const char *prog,
                        rtt_load_stats *st);

/* The name of a SpanKind number ("SERVER"), "UNSPECIFIED" for 0 and
 * unknown values. */
const char *rtt_kind_name(int kind);

#endif /* RPCTRACE_TOOLS_MODEL_H */
