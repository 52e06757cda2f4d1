/*
 * The C side of the semantic-conventions interop test (check_semconv.js): a
 * traced C client and C server (tests/filters/harness.h, linked with
 * rpctrace::wrap) over loopback make three unary RPCs to /test.Echo/Unary,
 * which end with OK, NOT_FOUND and INTERNAL from the server, and export
 * their spans as OTLP/JSON lines. NOT_FOUND is an error for the client and
 * not for the server; INTERNAL is an error for both: between them they take
 * each branch of the conventions' status rules.
 *
 * Tracing is configured from the environment alone (rpct_init(NULL)): the
 * caller sets OTEL_TRACES_EXPORTER=otlp_file, RPCTRACE_OTLP_FILE_PATH and
 * OTEL_SEMCONV_STABILITY_OPT_IN. rpct_shutdown flushes before exit.
 *
 * Usage: semconv_rpcs (no arguments). On stdout, line-buffered:
 *   port <n>                                  the server's loopback port
 *   rpc <code> <trace id> <span id> <message> one line per RPC, in order: the
 *                                             status the client received and
 *                                             the ids of its client span
 *                                             (rpct_call_span_context), so
 *                                             the checker finds the spans
 *                                             without reading the attributes
 *                                             under test
 * Exit status 0 when every RPC ended with the status it asked for; 1
 * otherwise (with the reason). The checker holds the spans against the
 * conventions; this program does not look at attributes.
 */
#include <stdio.h>
#include <string.h>

#include <grpc/grpc.h>

#include "harness.h"
#include "rpctrace/rpctrace.h"

#define METHOD "/test.Echo/Unary"

typedef struct rpc_case {
  grpc_status_code code;
  const char *message; /* the server's status message; no ';' (harness syntax) */
} rpc_case;

static const rpc_case cases[] = {
    {GRPC_STATUS_OK, ""},
    {GRPC_STATUS_NOT_FOUND, "no user 42"},
    {GRPC_STATUS_INTERNAL, "database unreachable"},
};

typedef struct ids {
  char trace_id[33];
  char span_id[17];
} ids;

/* Runs once the call exists: its client span's ids, or "none". */
static void note_span(grpc_call *call, void *user) {
  ids *s = user;
  const rpct_span_context *ctx = rpct_call_span_context(call);
  if (!ctx || rpct_trace_id_format(&ctx->trace_id, s->trace_id, sizeof s->trace_id) < 0 ||
      rpct_span_id_format(&ctx->span_id, s->span_id, sizeof s->span_id) < 0) {
    snprintf(s->trace_id, sizeof s->trace_id, "none");
    snprintf(s->span_id, sizeof s->span_id, "none");
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (rpct_init(NULL) != RPCT_OK) {
    puts("FAIL rpct_init(NULL)");
    return 1;
  }
  th_server_options so = {.threads = 1, .requests = 2};
  th_server *srv = NULL;
  if (th_server_start(&srv, &so) != 0) {
    puts("FAIL could not start the server");
    rpct_shutdown(5000);
    return 1;
  }
  int port = th_server_port(srv);
  printf("port %d\n", port);
  grpc_channel *ch = th_channel(port);

  int failures = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const rpc_case *c = &cases[i];
    char request[TH_TEXT];
    snprintf(request, sizeof request, "status=%d;msg=%s", (int)c->code, c->message);
    ids s = {{0}, {0}};
    th_call_opts o = {.deadline_ms = 10000, .on_call = note_span, .user = &s};
    th_result r;
    if (th_unary(ch, METHOD, request, &o, &r) != 0) {
      printf("FAIL the harness could not run the RPC %s\n", request);
      failures++;
      continue;
    }
    if (r.status != c->code || strcmp(r.details, c->message) != 0) {
      printf("FAIL RPC %s ended with status %d \"%s\"\n", request, (int)r.status, r.details);
      failures++;
    }
    printf("rpc %d %s %s %s\n", (int)r.status, s.trace_id, s.span_id, r.details);
  }
  /* Both spans of every RPC have ended once the server is idle. */
  if (!th_server_wait_idle(srv, 5000)) {
    puts("FAIL the server still had calls in progress after 5 s");
    failures++;
  }

  grpc_channel_destroy(ch);
  th_server_stop(srv);
  rpct_shutdown(5000);
  return failures ? 1 : 0;
}
