/* OTEL_BSP_EXPORT_TIMEOUT bounds the OTLP/gRPC exporter a tracer gets from
 * the environment (src/export/from_env.c): against a collector that
 * accepts connections and never answers, an export ends at that timeout,
 * through the exporter's own deadline, whatever OTEL_EXPORTER_OTLP_TIMEOUT
 * says (issue 9 #15). */
/* cmocka.h needs these first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Messages come from the export thread and the batch processor's watchdog
 * at once: a handler with a lock. */
static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;
static int n_diag;

static void diag_capture(void *data, const char *msg) {
  (void)data;
  pthread_mutex_lock(&diag_lock);
  n_diag++;
  printf("# diag: %s\n", msg);
  pthread_mutex_unlock(&diag_lock);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A listening socket nobody accepts on: connections complete in the
 * kernel, and the HTTP/2 handshake never gets an answer. */
static int black_hole(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(fd, 16), 0);
  socklen_t len = sizeof a;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

static void test_env_otlp_export_ends_within_bsp_export_timeout(void **state) {
  (void)state;
  int port;
  int fd = black_hole(&port);
  char endpoint[64];
  snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);
  setenv("OTEL_TRACES_EXPORTER", "otlp", 1);
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);
  setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "20000", 1); /* longer: the BSP's wins */
  setenv("OTEL_BSP_EXPORT_TIMEOUT", "800", 1);
  setenv("OTEL_BSP_SCHEDULE_DELAY", "600000", 1);
  setenv("OTEL_TRACES_SAMPLER", "always_on", 1);
  rpct_set_diag_handler(diag_capture, NULL);
  rpct_tracer *t = NULL;
  assert_int_equal(rpct_tracer_new(&t, NULL), RPCT_OK);
  static rpct_span span;
  assert_int_equal(rpct_span_start(&span, t, "pkg.Svc/Lost", RPCT_SPAN_KIND_CLIENT, NULL), RPCT_OK);
  assert_int_equal(rpct_span_end(&span, 0), RPCT_OK);

  double start = now_ms();
  assert_int_equal(rpct_tracer_force_flush(t, 10000), RPCT_ERR_EXPORT);
  double took = now_ms() - start;
  printf("# force_flush returned after %.0f ms (OTEL_BSP_EXPORT_TIMEOUT=800)\n", took);
  /* The exporter's deadline, 800 ms less its 50 ms margin, then as long as
   * gRPC core takes to deliver the failed call (long under sanitizers, when
   * the processor abandons the export at 800 ms and the flush still waits
   * for the call to return): far below the 20 s OTLP timeout. */
  assert_true(took >= 740.0);
  assert_true(took < 800.0 + 4000.0);
  rpct_tracer_stats s;
  rpct_tracer_get_stats(t, &s);
  assert_int_equal(s.processor.accepted, 1);
  assert_int_equal(s.processor.failed, 1);
  assert_int_equal(s.processor.failed_exports, 1);
  assert_int_equal(rpct_tracer_shutdown(t, 2000), RPCT_OK);
  rpct_tracer_del(t);       /* joins the processor's threads */
  assert_true(n_diag >= 1); /* the failure was reported */
  rpct_set_diag_handler(NULL, NULL);
  close(fd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_env_otlp_export_ends_within_bsp_export_timeout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
