/*
 * A small traced program for the `rpctrace` command's tests: makes one
 * trace of four spans in two services ("frontend", then "cart" continuing
 * the frontend's client call) with known relative times, an error, every
 * attribute type and an event, and exports them through the OTLP/gRPC
 * exporter (--endpoint URL) or the otlp_file exporter (--file PATH). It
 * prints what it made, for the test to look for:
 *   trace <trace id>
 *   span <span id> <service> <name>      (one per span, in the order ended)
 * Exit status 0 when every span was exported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpctrace/rpctrace.h"

/* A tracer of service `name` exporting through `e` (taken). */
static rpct_tracer *tracer_for(const char *name, rpct_exporter *e) {
  rpct_resource *res = NULL;
  rpct_processor *p = NULL;
  rpct_tracer_options *o = NULL;
  rpct_tracer *t = NULL;
  if (rpct_resource_new(&res, NULL) != RPCT_OK || rpct_resource_set(res, "service.name", name) ||
      rpct_simple_processor_new(&p, e, NULL) != RPCT_OK || rpct_tracer_options_new(&o) != RPCT_OK)
    return NULL;
  rpct_tracer_options_set_resource(o, res);
  rpct_tracer_options_set_processor(o, p);
  if (rpct_tracer_new(&t, o) != RPCT_OK) t = NULL;
  rpct_tracer_options_del(o);
  return t;
}

static rpct_exporter *exporter(const char *endpoint, const char *file) {
  rpct_exporter *e = NULL;
  if (endpoint) {
    rpct_otlp_options opts;
    memset(&opts, 0, sizeof opts);
    opts.endpoint = endpoint;
    opts.timeout_ms = 5000;
    if (rpct_otlp_exporter_new(&e, &opts, NULL) != RPCT_OK) return NULL;
  } else if (rpct_otlp_file_exporter_new(&e, file, NULL) != RPCT_OK) {
    return NULL;
  }
  return e;
}

static void start(rpct_span *s, rpct_tracer *t, const char *name, rpct_span_kind kind,
                  const rpct_span_context *parent, uint64_t at) {
  rpct_span_start_args a;
  memset(&a, 0, sizeof a);
  a.name = name;
  a.name_len = RPCT_NTS;
  a.kind = kind;
  a.parent = parent;
  a.start_unix_ns = at;
  rpct_span_start_ex(s, t, &a);
}

static void report(const rpct_span *s, const char *service, const char *name) {
  char id[17];
  rpct_span_id_format(&rpct_span_get_context(s)->span_id, id, sizeof id);
  printf("span %s %s %s\n", id, service, name);
}

int main(int argc, char **argv) {
  const char *endpoint = NULL, *file = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--endpoint") == 0) endpoint = argv[i + 1];
    if (strcmp(argv[i], "--file") == 0) file = argv[i + 1];
  }
  if (!endpoint == !file) {
    fprintf(stderr, "usage: send_spans --endpoint URL | --file PATH\n");
    return 2;
  }
  rpct_exporter *e1 = exporter(endpoint, file), *e2 = exporter(endpoint, file);
  rpct_tracer *frontend = e1 ? tracer_for("frontend", e1) : NULL;
  rpct_tracer *cart = e2 ? tracer_for("cart", e2) : NULL;
  if (!frontend || !cart) {
    fprintf(stderr, "send_spans: cannot set up the tracers\n");
    return 1;
  }
  /* Times in ms after t0, rounded so the bars are predictable:
   * checkout [0,10), GetCart client [1,4), GetCart server [1.5,3.5),
   * Charge client [5,9) failing. */
  const uint64_t ms = 1000000;
  uint64_t t0 = rpct_now_unix_ns() / ms * ms;
  static rpct_span root, get_cart, cart_server, charge;
  start(&root, frontend, "shop.Frontend/Checkout", RPCT_SPAN_KIND_SERVER, NULL, t0);
  rpct_span_set_str(&root, "rpc.system", "grpc");
  rpct_span_set_int(&root, "rpc.grpc.status_code", 0);
  rpct_span_set_bool(&root, "shop.vip", true);
  rpct_span_set_double(&root, "shop.total", 42.5);

  start(&get_cart, frontend, "shop.Cart/GetCart", RPCT_SPAN_KIND_CLIENT,
        rpct_span_get_context(&root), t0 + 1 * ms);
  rpct_span_context remote = *rpct_span_get_context(&get_cart);
  remote.remote = true;
  start(&cart_server, cart, "shop.Cart/GetCart", RPCT_SPAN_KIND_SERVER, &remote, t0 + 3 * ms / 2);
  rpct_attribute ev_attr = RPCT_ATTR_INT("items", 3);
  rpct_span_add_event(&cart_server, "cart loaded", t0 + 2 * ms, &ev_attr, 1);
  rpct_span_end(&cart_server, t0 + 7 * ms / 2);
  rpct_span_end(&get_cart, t0 + 4 * ms);

  start(&charge, frontend, "shop.Payment/Charge", RPCT_SPAN_KIND_CLIENT,
        rpct_span_get_context(&root), t0 + 5 * ms);
  rpct_span_set_status(&charge, RPCT_STATUS_ERROR, "card declined");
  rpct_span_end(&charge, t0 + 9 * ms);
  rpct_span_end(&root, t0 + 10 * ms);

  char trace[33];
  rpct_trace_id_format(&rpct_span_get_context(&root)->trace_id, trace, sizeof trace);
  printf("trace %s\n", trace);
  report(&cart_server, "cart", "shop.Cart/GetCart");
  report(&get_cart, "frontend", "shop.Cart/GetCart");
  report(&charge, "frontend", "shop.Payment/Charge");
  report(&root, "frontend", "shop.Frontend/Checkout");

  rpct_tracer_stats s1, s2;
  rpct_tracer_get_stats(frontend, &s1);
  rpct_tracer_get_stats(cart, &s2);
  rpct_tracer_del(frontend);
  rpct_tracer_del(cart);
  uint64_t exported = s1.processor.exported + s2.processor.exported;
  if (exported != 4) {
    fprintf(stderr, "send_spans: %llu of 4 spans exported\n", (unsigned long long)exported);
    return 1;
  }
  return 0;
}
