/*
 * hello_trace: one trace of a few spans, as a gRPC client and server would
 * make it, printed by the console exporter. It shows the core API: a
 * tracer, a root span, context handed across a "process boundary" as a
 * traceparent header, child spans, attributes, events, status.
 *
 *   OTEL_SERVICE_NAME=hello ./hello_trace
 */
#include <stdio.h>
#include <string.h>

#include <rpctrace/rpctrace.h>

static int fail(const char *what, int rc) {
  fprintf(stderr, "hello_trace: %s: %s\n", what, rpct_strerror(rc));
  return 1;
}

int main(void) {
  rpct_exporter *console;
  rpct_processor *processor;
  rpct_tracer_options *opts;
  rpct_tracer *tracer;
  int rc;
  if ((rc = rpct_console_exporter_new(&console, stdout, NULL)) != RPCT_OK)
    return fail("console exporter", rc);
  if ((rc = rpct_simple_processor_new(&processor, console, NULL)) != RPCT_OK)
    return fail("processor", rc);
  if ((rc = rpct_tracer_options_new(&opts)) != RPCT_OK) return fail("options", rc);
  rpct_tracer_options_set_processor(opts, processor);
  if ((rc = rpct_tracer_new(&tracer, opts)) != RPCT_OK) return fail("tracer", rc);
  rpct_tracer_options_del(opts);

  /* The client side: a CLIENT span whose context travels as traceparent. */
  rpct_span client;
  rpct_span_start(&client, tracer, "user.v1.UserService/GetUser", RPCT_SPAN_KIND_CLIENT, NULL);
  rpct_span_set_str(&client, "rpc.system", "grpc");
  rpct_span_set_str(&client, "rpc.service", "user.v1.UserService");
  rpct_span_set_str(&client, "rpc.method", "GetUser");
  char traceparent[RPCT_TRACEPARENT_LEN + 1];
  rpct_traceparent_format(rpct_span_get_context(&client), traceparent, sizeof traceparent);
  printf("client sends traceparent: %s\n", traceparent);

  /* The server side: extract, start a SERVER span, do work in a child. */
  rpct_span_context remote;
  if (rpct_traceparent_parse(traceparent, strlen(traceparent), &remote) != RPCT_OK)
    return fail("traceparent", RPCT_ERR_PARSE);
  rpct_span server, lookup;
  rpct_span_start(&server, tracer, "user.v1.UserService/GetUser", RPCT_SPAN_KIND_SERVER, &remote);
  rpct_context_token tok = rpct_context_attach(rpct_span_get_context(&server));
  rpct_span_start(&lookup, tracer, "users.lookup", RPCT_SPAN_KIND_INTERNAL, NULL);
  rpct_span_set_int(&lookup, "user.id", 42);
  rpct_attribute found = RPCT_ATTR_BOOL("found", true);
  rpct_span_add_event(&lookup, "cache.miss", 0, &found, 1);
  char ids[RPCT_LOG_IDS_LEN + 1];
  rpct_span_context_format_log(rpct_span_get_context(&lookup), ids, sizeof ids);
  printf("server log: looking up user 42 %s\n", ids);
  rpct_span_end(&lookup, 0);
  rpct_context_detach(tok);
  rpct_span_set_int(&server, "rpc.grpc.status_code", 0);
  rpct_span_end(&server, 0);

  /* A second call that fails, to show an error status. */
  rpct_span failed;
  rpct_span_start(&failed, tracer, "user.v1.UserService/GetUser", RPCT_SPAN_KIND_CLIENT,
                  rpct_span_get_context(&client));
  rpct_span_set_int(&failed, "rpc.grpc.status_code", 5);
  rpct_span_set_status(&failed, RPCT_STATUS_ERROR, "user 7 not found");
  rpct_span_end(&failed, 0);

  rpct_span_set_int(&client, "rpc.grpc.status_code", 0);
  rpct_span_end(&client, 0);

  rpct_tracer_stats st;
  rpct_tracer_get_stats(tracer, &st);
  printf("spans started %llu, ended %llu, exported %llu\n",
         (unsigned long long)st.spans_started, (unsigned long long)st.spans_ended,
         (unsigned long long)st.processor.exported);
  rpct_tracer_del(tracer);
  return st.processor.exported == 4 ? 0 : 1;
}
