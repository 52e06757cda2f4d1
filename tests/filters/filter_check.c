/*
 * filter_check: hold exported spans against the RPCs a filter test program
 * ran (span_check.h). No rpctrace dependency: it reads what a traced
 * program left behind.
 *
 *   filter_check --expect RPCS (--otlp-json FILE | --spans FILE)
 *                [--min-spans N]
 *
 * RPCS holds `rpc` lines (filter_matrix --expect); FILE is an OTLP/JSON
 * lines file (the otlp_file exporter) or `span` lines (otlp_sink). Exit
 * status 0 when every span belongs to exactly one RPC and every RPC has the
 * spans it should.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "span_check.h"

int main(int argc, char **argv) {
  const char *expect = NULL, *otlp = NULL, *lines = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--expect")) expect = argv[i + 1];
    else if (!strcmp(argv[i], "--otlp-json")) otlp = argv[i + 1];
    else if (!strcmp(argv[i], "--spans")) lines = argv[i + 1];
    else expect = NULL, i = argc;
  }
  if (!expect || !!otlp == !!lines) {
    fputs("usage: filter_check --expect RPCS (--otlp-json FILE | --spans FILE)\n", stderr);
    return 2;
  }
  sc_rpcs rpcs = {0};
  sc_spans spans = {0};
  if (sc_read_file(expect, NULL, &rpcs) != 0) return 1;
  if (!rpcs.n) {
    printf("FAIL %s holds no RPC\n", expect);
    return 1;
  }
  int rc = otlp ? sc_read_otlp_json(otlp, &spans) : sc_read_file(lines, &spans, NULL);
  if (rc != 0) {
    printf("FAIL could not read the spans\n");
    return 1;
  }
  int problems = sc_check(&spans, &rpcs, stdout);
  printf("filter_check: %zu RPCs, %zu spans, %d problems\n", rpcs.n, spans.n, problems);
  sc_rpcs_free(&rpcs);
  sc_spans_free(&spans);
  return problems ? 1 : 0;
}
