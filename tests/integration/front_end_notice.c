/*
 * rpct_init in a program without a gRPC front end says so, once, through
 * the diag handler, and still succeeds. Public API only, so the same source
 * is linked three ways (tests/integration/CMakeLists.txt):
 *
 *   front_end_notice_none   librpctrace.so alone      --expect 1
 *   front_end_notice_wrap   rpctrace::wrap            --expect 0
 *   front_end_notice_none under LD_PRELOAD=librpctrace_preload.so --expect 0
 *
 * The program calls rpct_init twice (the second is RPCT_ERR_STATE), makes a
 * span of its own, and makes a few gRPC core calls, as a real program
 * would, so the wrap front end is linked in. Exit status 0 when the notice
 * appeared exactly as often as --expect says, with exactly the text below.
 */
#include <grpc/grpc.h>
#include <pthread.h>
#include <rpctrace/rpctrace.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char want_notice[] =
    "rpct_init: no gRPC front end in this program, so no RPC will be traced "
    "(spans started through the API still are); link rpctrace::wrap "
    "(CMake) or `pkg-config --libs rpctrace-wrap`, or run the program under "
    "`rpctrace run` (LD_PRELOAD=librpctrace_preload.so)";

/* Diag messages, from any thread (the export thread may report too). */
static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;
static int n_notices, n_wrong_text;

static void capture(void *data, const char *msg) {
  (void)data;
  pthread_mutex_lock(&diag_lock);
  if (strstr(msg, "front end")) {
    n_notices++;
    if (strcmp(msg, want_notice) != 0) {
      n_wrong_text++;
      fprintf(stderr, "front_end_notice: unexpected text\n  want %s\n  got  %s\n", want_notice, msg);
    }
  } else {
    fprintf(stderr, "front_end_notice: other diagnostic: %s\n", msg);
  }
  pthread_mutex_unlock(&diag_lock);
}

static int fail(const char *what) {
  fprintf(stderr, "front_end_notice: FAIL %s\n", what);
  return 1;
}

/* A completion queue created, shut down, drained and destroyed: enough
 * calls of interposed functions for the wrap front end to be linked. */
static void some_grpc_calls(void) {
  grpc_init();
  grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  grpc_shutdown();
}

int main(int argc, char **argv) {
  if (argc != 3 || strcmp(argv[1], "--expect") != 0) {
    fprintf(stderr, "usage: %s --expect N\n", argv[0]);
    return 2;
  }
  int expect = atoi(argv[2]);
  /* No exporter: nothing here may depend on a collector. */
  setenv("OTEL_TRACES_EXPORTER", "none", 1);
  rpct_set_diag_handler(capture, NULL);

  int rc = rpct_init(NULL);
  if (rc != RPCT_OK) return fail("first rpct_init is not RPCT_OK");
  if (rpct_init(NULL) != RPCT_ERR_STATE) return fail("second rpct_init is not RPCT_ERR_STATE");

  /* The tracing API still works without a front end. */
  rpct_tracer *t = rpct_tracer_global();
  if (!t) return fail("rpct_init set no global tracer");
  rpct_span span;
  if (rpct_span_start(&span, t, "front_end_notice/manual", RPCT_SPAN_KIND_INTERNAL, NULL) != RPCT_OK)
    return fail("rpct_span_start");
  rpct_span_end(&span, 0);
  rpct_tracer_stats stats;
  rpct_tracer_get_stats(t, &stats);
  if (stats.spans_ended != 1) return fail("the manual span was not recorded");

  some_grpc_calls();
  rpct_shutdown(1000);
  rpct_set_diag_handler(NULL, NULL);

  pthread_mutex_lock(&diag_lock);
  int n = n_notices, wrong = n_wrong_text;
  pthread_mutex_unlock(&diag_lock);
  if (wrong) return fail("the notice's text differs");
  if (n != expect) {
    fprintf(stderr, "front_end_notice: FAIL the notice appeared %d times, expected %d\n", n, expect);
    return 1;
  }
  printf("front_end_notice: notice appeared %d time(s), as expected\n", n);
  return 0;
}
