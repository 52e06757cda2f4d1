/*
 * The OTLP/gRPC exporter against a fake collector over loopback: success,
 * retries (UNAVAILABLE, RESOURCE_EXHAUSTED with RetryInfo), non-retryable
 * failures, partial success, a server slower than the export timeout and no
 * server at all. Each case ends a few spans through a tracer whose batch
 * processor exports them in one force_flush, tears everything down, and
 * only then asserts, so a failing case leaves nothing running.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <grpc/support/log.h>

#include "fake_collector.h"
#include "internal.h"
#include "rpctrace/rpctrace.h"
#include "test_util.h"

#define MAX_SPANS 16
#define MAX_ATTEMPTS 64
/* How late past its timeout an export may return (scheduling, teardown of
 * the attempt, the processor waking the flusher). */
#define SLACK_MS 300
#define FLUSH_LIMIT_MS 10000

/* ---- diagnostics, captured from any thread ---- */

static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;
static char diag_text[16384]; /* every message, each followed by '\n' */

static void diag_capture(void *data, const char *msg) {
  (void)data;
  pthread_mutex_lock(&diag_lock);
  size_t used = strlen(diag_text);
  snprintf(diag_text + used, sizeof diag_text - used, "%s\n", msg);
  pthread_mutex_unlock(&diag_lock);
}

/* gRPC core's own log lines go to the same text: a secret must not reach
 * either. */
static void grpc_log_capture(gpr_log_func_args *args) {
  char line[1200];
  snprintf(line, sizeof line, "grpc: %s", args->message);
  diag_capture(NULL, line);
}

static void diag_start(void) {
  pthread_mutex_lock(&diag_lock);
  diag_text[0] = '\0';
  pthread_mutex_unlock(&diag_lock);
  rpct__diag_reset_once();
  rpct_set_diag_handler(diag_capture, NULL);
  gpr_set_log_function(grpc_log_capture);
}

static void diag_stop(void) {
  rpct_set_diag_handler(NULL, NULL);
  gpr_set_log_function(NULL); /* core's default logger */
}

/* Whether `needle` appears anywhere in what was captured. */
static bool diag_shows(const char *needle) {
  pthread_mutex_lock(&diag_lock);
  bool found = strstr(diag_text, needle) != NULL;
  pthread_mutex_unlock(&diag_lock);
  return found;
}

/* Lines captured that contain `needle`. */
static int diag_lines_with(const char *needle) {
  int n = 0;
  pthread_mutex_lock(&diag_lock);
  for (const char *line = diag_text; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    const char *hit = strstr(line, needle);
    if (hit && hit < line + len) n++;
    line += len + (end ? 1 : 0);
  }
  pthread_mutex_unlock(&diag_lock);
  return n;
}

/* ---- one run: collector, exporter, batch processor, tracer, K spans ---- */

typedef struct run_result {
  rpct_span_id sent[MAX_SPANS]; /* ids of the spans ended */
  size_t n_sent;
  fc_attempt attempts[MAX_ATTEMPTS];
  rpct_span_id attempt_ids[MAX_ATTEMPTS][MAX_SPANS];
  size_t n_attempts; /* all recorded (may exceed MAX_ATTEMPTS) */
  int port;          /* of the endpoint */
  int exporter_rc;
  int flush_rc;
  uint64_t flush_ms; /* how long force_flush took */
  rpct_processor_stats after_flush;
  rpct_processor_stats after_shutdown;
} run_result;

/* A port nothing listens on: bind 127.0.0.1:0, read the port, close. */
static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
  close(s);
  return ntohs(a.sin_port);
}

static rpct_tracer *new_tracer(rpct_processor *proc) {
  rpct_sampler *sampler = NULL;
  rpct_resource *res = NULL;
  rpct_tracer_options *o = NULL;
  rpct_tracer *t = NULL;
  assert_int_equal(rpct_sampler_always_on_new(&sampler, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_new(&res, NULL), RPCT_OK);
  assert_int_equal(rpct_resource_set(res, "service.name", "otlp-grpc-integration"), RPCT_OK);
  assert_int_equal(rpct_tracer_options_new(&o), RPCT_OK);
  rpct_tracer_options_set_sampler(o, sampler);
  rpct_tracer_options_set_processor(o, proc);
  rpct_tracer_options_set_resource(o, res);
  assert_int_equal(rpct_tracer_new(&t, o), RPCT_OK);
  rpct_tracer_options_del(o);
  return t;
}

static rpct_otlp_options fast_options(uint32_t timeout_ms) {
  return (rpct_otlp_options){
      .timeout_ms = timeout_ms,
      .compression = RPCT_OTLP_COMPRESSION_NONE,
      .insecure = RPCT_OTLP_PLAINTEXT,
      .initial_backoff_ms = 50,
      .max_backoff_ms = 200,
  };
}

/*
 * Start a collector with `cfg` (NULL: none, and the endpoint is a closed
 * port), export `k` spans with `opts` in one force_flush, shut down and
 * delete the tracer, copy what the collector recorded, stop it. The
 * endpoint is `endpoint_fmt` with the port for its "%d". Diagnostics and
 * gRPC's log lines of the run are captured (diag_lines_with, diag_shows).
 */
static void run_export_to(const char *endpoint_fmt, const fc_config *cfg, rpct_otlp_options opts,
                          size_t k, run_result *r) {
  memset(r, 0, sizeof *r);
  diag_start();
  assert_true(k <= MAX_SPANS);
  fake_collector *fc = NULL;
  int port;
  if (cfg) {
    assert_int_equal(fc_start(&fc, cfg), 0);
    port = fc_port(fc);
  } else {
    port = free_port();
  }
  /* endpoint_fmt with the port for its "%d" (not a printf format: the
   * compiler checks those, and this one is data). */
  r->port = port;
  const char *d = strstr(endpoint_fmt, "%d");
  assert_non_null(d);
  char endpoint[160];
  snprintf(endpoint, sizeof endpoint, "%.*s%d%s", (int)(d - endpoint_fmt), endpoint_fmt, port,
           d + 2);
  opts.endpoint = endpoint;

  rpct_exporter *e = NULL;
  r->exporter_rc = rpct_otlp_exporter_new(&e, &opts, NULL);
  if (r->exporter_rc != RPCT_OK) {
    fc_stop(fc);
    diag_stop();
    return;
  }
  /* Nothing is exported before the flush: a batch never fills and the
   * schedule never comes due within a case. */
  rpct_batch_options bo = {
      .max_queue_size = 64,
      .schedule_delay_ms = 60000,
      .max_export_batch_size = 64,
      .export_timeout_ms = 30000,
  };
  rpct_processor *proc = NULL;
  assert_int_equal(rpct_batch_processor_new(&proc, e, &bo, NULL), RPCT_OK);
  rpct_tracer *t = new_tracer(proc);

  for (size_t i = 0; i < k; i++) {
    rpct_span span;
    memset(&span, 0, sizeof span);
    assert_int_equal(rpct_span_start(&span, t, "otlp.Test/Export", RPCT_SPAN_KIND_INTERNAL, NULL),
                     RPCT_OK);
    rpct_span_set_int(&span, "test.index", (int64_t)i);
    r->sent[r->n_sent++] = rpct_span_get_context(&span)->span_id;
    assert_int_equal(rpct_span_end(&span, 0), RPCT_OK);
  }

  uint64_t t0 = fc_now_mono_ns();
  r->flush_rc = rpct_tracer_force_flush(t, FLUSH_LIMIT_MS);
  r->flush_ms = (fc_now_mono_ns() - t0) / 1000000u;
  rpct_tracer_stats ts;
  rpct_tracer_get_stats(t, &ts);
  r->after_flush = ts.processor;
  rpct_tracer_shutdown(t, FLUSH_LIMIT_MS);
  rpct_tracer_get_stats(t, &ts);
  r->after_shutdown = ts.processor;
  rpct_tracer_del(t);

  if (fc) {
    r->n_attempts = fc_attempt_count(fc);
    for (size_t i = 0; i < r->n_attempts && i < MAX_ATTEMPTS; i++) {
      assert_true(fc_attempt_get(fc, i, &r->attempts[i]));
      fc_attempt_span_ids(fc, i, r->attempt_ids[i], MAX_SPANS);
    }
    fc_stop(fc);
  }
  diag_stop();
}

static void run_export(const fc_config *cfg, rpct_otlp_options opts, size_t k, run_result *r) {
  run_export_to("http://127.0.0.1:%d", cfg, opts, k, r);
}

/* ---- assertions ---- */

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, sizeof(rpct_span_id)); }

/* The ids in `got` (n) are exactly the ids sent, each once. */
static void assert_same_ids(const run_result *r, const rpct_span_id *got, size_t n) {
  rpct_span_id want[MAX_SPANS], have[MAX_ATTEMPTS * MAX_SPANS];
  assert_int_equal(n, r->n_sent);
  memcpy(want, r->sent, r->n_sent * sizeof *want);
  memcpy(have, got, n * sizeof *have);
  qsort(want, r->n_sent, sizeof *want, id_cmp);
  qsort(have, n, sizeof *have, id_cmp);
  for (size_t i = 1; i < r->n_sent; i++) assert_true(id_cmp(&want[i - 1], &want[i]) != 0);
  assert_memory_equal(want, have, n * sizeof *want);
}

/* Every span id in attempts answered OK, each exactly once across them,
 * and nothing else. */
static void assert_accepted_ids(const run_result *r) {
  rpct_span_id got[MAX_ATTEMPTS * MAX_SPANS];
  size_t n = 0;
  for (size_t i = 0; i < r->n_attempts && i < MAX_ATTEMPTS; i++) {
    if (r->attempts[i].answered != GRPC_STATUS_OK) continue;
    assert_true(r->attempts[i].n_spans <= MAX_SPANS);
    memcpy(got + n, r->attempt_ids[i], r->attempts[i].n_spans * sizeof *got);
    n += r->attempts[i].n_spans;
  }
  assert_same_ids(r, got, n);
}

/* Attempt i carried exactly the spans sent. */
static void assert_attempt_carried_all(const run_result *r, size_t i) {
  assert_true(r->attempts[i].decoded);
  assert_int_equal(r->attempts[i].n_spans, r->n_sent);
  assert_same_ids(r, r->attempt_ids[i], r->attempts[i].n_spans);
}

typedef struct want_stats {
  uint64_t exported, rejected, failed, failed_exports;
} want_stats;

static void assert_stats_are(const rpct_processor_stats *s, uint64_t k, want_stats w) {
  assert_int_equal(s->accepted, k);
  assert_int_equal(s->dropped_full, 0);
  assert_int_equal(s->dropped_shutdown, 0);
  assert_int_equal(s->queued, 0);
  assert_int_equal(s->exported, w.exported);
  assert_int_equal(s->rejected, w.rejected);
  assert_int_equal(s->failed, w.failed);
  assert_int_equal(s->failed_exports, w.failed_exports);
  assert_int_equal(s->accepted, s->exported + s->rejected + s->failed + s->queued);
}

/* The same counters once force_flush has returned and after shutdown. */
static void assert_stats(const run_result *r, want_stats w) {
  assert_stats_are(&r->after_flush, r->n_sent, w);
  assert_stats_are(&r->after_shutdown, r->n_sent, w);
}

static uint64_t gap_ms(const run_result *r, size_t a, size_t b) {
  return (r->attempts[b].arrival_mono_ns - r->attempts[a].arrival_mono_ns) / 1000000u;
}

/* ---- the cases ---- */

#define K 5
#define TIMEOUT_MS 3000

static void test_otlp_grpc_accept_delivers_every_span_once(void **state) {
  (void)state;
  run_result r;
  run_export(&(fc_config){.mode = FC_ACCEPT}, fast_options(TIMEOUT_MS), K, &r);
  assert_int_equal(r.exporter_rc, RPCT_OK);
  assert_int_equal(r.flush_rc, RPCT_OK);
  assert_int_equal(r.n_attempts, 1);
  assert_int_equal(r.attempts[0].answered, GRPC_STATUS_OK);
  assert_attempt_carried_all(&r, 0);
  assert_accepted_ids(&r);
  assert_stats(&r, (want_stats){.exported = K});
}

static void test_otlp_grpc_retries_unavailable_until_accepted(void **state) {
  (void)state;
  run_result r;
  fc_config cfg = {.mode = FC_UNAVAILABLE_THEN_ACCEPT, .fail_first = 2};
  run_export(&cfg, fast_options(TIMEOUT_MS), K, &r);
  assert_int_equal(r.exporter_rc, RPCT_OK);
  assert_int_equal(r.n_attempts, 3);
  assert_int_equal(r.attempts[0].answered, GRPC_STATUS_UNAVAILABLE);
  assert_int_equal(r.attempts[1].answered, GRPC_STATUS_UNAVAILABLE);
  assert_int_equal(r.attempts[2].answered, GRPC_STATUS_OK);
  /* Each attempt resends the same batch; only the last one counts. */
  for (size_t i = 0; i < 3; i++) assert_attempt_carried_all(&r, i);
  assert_accepted_ids(&r);
  /* Full jitter makes every wait's lower bound 0: bound the total only. */
  assert_true(r.flush_ms < TIMEOUT_MS);
  assert_int_equal(r.flush_rc, RPCT_OK);
  assert_stats(&r, (want_stats){.exported = K});
}

static void test_otlp_grpc_resource_exhausted_waits_retry_info_delay(void **state) {
  (void)state;
  run_result r;
  fc_config cfg = {.mode = FC_EXHAUSTED_RETRY_INFO, .fail_first = 1, .retry_delay_ms = 300};
  run_export(&cfg, fast_options(TIMEOUT_MS), K, &r);
  assert_int_equal(r.exporter_rc, RPCT_OK);
  assert_int_equal(r.n_attempts, 2);
  assert_int_equal(r.attempts[0].answered, GRPC_STATUS_RESOURCE_EXHAUSTED);
  assert_int_equal(r.attempts[1].answered, GRPC_STATUS_OK);
  assert_attempt_carried_all(&r, 0);
  assert_attempt_carried_all(&r, 1);
  assert_accepted_ids(&r);
  uint64_t gap = gap_ms(&r, 0, 1);
  print_message("retry after RetryInfo 300 ms came %llu ms later\n", (unsigned long long)gap);
  assert_true(gap >= 300);
  assert_true(gap < TIMEOUT_MS);
  assert_int_equal(r.flush_rc, RPCT_OK);
  assert_stats(&r, (want_stats){.exported = K});
}

static void test_otlp_grpc_resource_exhausted_without_retry_info_fails_once(void **state) {
  (void)state;
  run_result r;
  run_export(&(fc_config){.mode = FC_EXHAUSTED}, fast_options(TIMEOUT_MS), K, &r);
  assert_int_equal(r.exporter_rc, RPCT_OK);
  assert_int_equal(r.n_attempts, 1);
  assert_int_equal(r.attempts[0].answered, GRPC_STATUS_RESOURCE_EXHAUSTED);
  assert_attempt_carried_all(&r, 0);
  assert_true(r.flush_ms < TIMEOUT_MS);
  assert_stats(&r, (want_stats){.failed = K, .failed_exports = 1});
}

static void test_otlp_grpc_invalid_argument_is_not_retried(void **state) {
  (void)state;
  run_result r;
  run_export(&(fc_config){.mode = FC_INVALID_ARGUMENT}, fast_options(TIMEOUT_MS), K, &r);
  assert_int_equal(r.exporter_rc, RPCT_OK);
  assert_int_equal(r.n_attempts, 1);
  assert_int_equal(r.attempts[0].answered, GRPC_STATUS_INVALID_ARGUMENT);
  assert_attempt_carried_all(&r, 0);
  assert_true(r.flush_ms < TIMEOUT_MS);
  assert_stats(&r, (want_stats){.failed = K, .failed_exports = 1});
}

static void test_otlp_grpc_partial_success_counts_rejected_and_reports_message(void **state) {
  (void)state;
  static const char message[] = "fake-collector: 2 spans over quota";
  run_result r;
  fc_config cfg = {.mode = FC_PARTIAL_SUCCESS, .rejected_spans = 2, .error_message = message};
  run_export(&cfg, fast_options(TIMEOUT_MS), K, &r);
  assert_int_equal(r.exporter_rc, RPCT_OK);
  assert_int_equal(r.n_attempts, 1);
  assert_int_equal(r.attempts[0].answered, GRPC_STATUS_OK);
  assert_attempt_carried_all(&r, 0);
  assert_int_equal(r.flush_rc, RPCT_OK);
  assert_stats(&r, (want_stats){.exported = K - 2, .rejected = 2});
  assert_int_equal(diag_lines_with(message), 1);
}

static void test_otlp_grpc_slow_server_fails_at_the_timeout(void **state) {
  (void)state;
  enum { SHORT_TIMEOUT_MS = 500 };
  run_result r;
  run_export(&(fc_config){.mode = FC_SLOW, .delay_ms = 2000}, fast_options(SHORT_TIMEOUT_MS), K,
             &r);
  assert_int_equal(r.exporter_rc, RPCT_OK);
  print_message("export to a 2000 ms server with a 500 ms timeout took %llu ms\n",
                (unsigned long long)r.flush_ms);
  assert_true(r.flush_ms <= SHORT_TIMEOUT_MS + SLACK_MS);
  /* The collector serves one call at a time: it was still holding the
   * first attempt when the export gave up. */
  assert_int_equal(r.n_attempts, 1);
  assert_attempt_carried_all(&r, 0);
  assert_stats(&r, (want_stats){.failed = K, .failed_exports = 1});
}

static void test_otlp_grpc_no_server_fails_within_the_timeout(void **state) {
  (void)state;
  enum { SHORT_TIMEOUT_MS = 1000 };
  run_result r;
  run_export(NULL, fast_options(SHORT_TIMEOUT_MS), K, &r);
  assert_int_equal(r.exporter_rc, RPCT_OK);
  print_message("export to a closed port with a 1000 ms timeout took %llu ms\n",
                (unsigned long long)r.flush_ms);
  assert_true(r.flush_ms <= SHORT_TIMEOUT_MS + SLACK_MS);
  assert_stats(&r, (want_stats){.failed = K, .failed_exports = 1});
}

/* A collector answering RESOURCE_EXHAUSTED with RetryInfo delay 0 forever
 * once got 9,152 re-sends of one batch in 25 s. The delay is a minimum:
 * the wait is never shorter than the exporter's own backoff step (50,
 * 100, 200, 200... ms here), and nothing is sent past the 1 s deadline:
 * attempts at 0, >=50, >=150, >=350, >=550, >=750, >=950 ms, 7 at most. */
static void test_otlp_grpc_retry_info_zero_is_floored_by_the_backoff(void **state) {
  (void)state;
  enum { DEADLINE_MS = 1000, MOST = 7 };
  static const uint64_t step_ms[MOST - 1] = {50, 100, 200, 200, 200, 200};
  run_result r;
  fc_config cfg = {.mode = FC_EXHAUSTED_RETRY_INFO, .fail_first = UINT32_MAX, .retry_delay_ms = 0};
  run_export(&cfg, fast_options(DEADLINE_MS), K, &r);
  assert_int_equal(r.exporter_rc, RPCT_OK);
  print_message("RetryInfo 0 for %u ms: %zu attempts in %llu ms\n", (unsigned)DEADLINE_MS,
                r.n_attempts, (unsigned long long)r.flush_ms);
  assert_true(r.n_attempts >= 2); /* RetryInfo makes RESOURCE_EXHAUSTED retryable */
  assert_true(r.n_attempts <= MOST);
  for (size_t i = 1; i < r.n_attempts; i++) {
    assert_int_equal(r.attempts[i].answered, GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_attempt_carried_all(&r, i);
    if (gap_ms(&r, i - 1, i) < step_ms[i - 1])
      fail_msg("attempt %zu came %llu ms after the one before, under the %llu ms step", i,
               (unsigned long long)gap_ms(&r, i - 1, i), (unsigned long long)step_ms[i - 1]);
  }
  assert_true(r.flush_ms <= DEADLINE_MS + SLACK_MS);
  assert_stats(&r, (want_stats){.failed = K, .failed_exports = 1});
}

/* RetryInfo delays no export deadline can reach, among them seconds above
 * INT64_MAX/1000 (seconds * 1000 overflowed: undefined behaviour, caught
 * by UBSan) and invalid Durations with negative nanos: the export gives up
 * at once, after one attempt, instead of waiting for its deadline. */
static void test_otlp_grpc_retry_info_beyond_the_deadline_fails_at_once(void **state) {
  (void)state;
  static const struct {
    int64_t seconds;
    int32_t nanos;
  } delays[] = {
      {INT64_MAX, 999999999},
      {INT64_MAX / 1000 + 1, 0},
      {INT64_MAX / 1000 + 1, -1},
      {INT64_MAX, INT32_MIN},
      {86400, 0}, /* a day: fits, but not in a 3 s export */
  };
  for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
    run_result r;
    fc_config cfg = {.mode = FC_EXHAUSTED_RETRY_DURATION,
                     .fail_first = UINT32_MAX,
                     .retry_seconds = delays[i].seconds,
                     .retry_nanos = delays[i].nanos};
    run_export(&cfg, fast_options(TIMEOUT_MS), K, &r);
    assert_int_equal(r.exporter_rc, RPCT_OK);
    print_message("RetryInfo {%lld s, %d ns}: %zu attempt(s), gave up after %llu ms\n",
                  (long long)delays[i].seconds, (int)delays[i].nanos, r.n_attempts,
                  (unsigned long long)r.flush_ms);
    assert_int_equal(r.n_attempts, 1);
    assert_int_equal(r.attempts[0].answered, GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_true(r.flush_ms < TIMEOUT_MS / 2);
    assert_stats(&r, (want_stats){.failed = K, .failed_exports = 1});
  }
}

/* A negative RetryInfo delay asks for a retry now: it is retried, after
 * the backoff's initial step (50 ms). */
static void test_otlp_grpc_negative_retry_info_is_retried_after_the_floor(void **state) {
  (void)state;
  static const struct {
    int64_t seconds;
    int32_t nanos;
  } delays[] = {{-1, 0}, {0, -500000000}, {INT64_MIN, INT32_MIN}};
  for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
    run_result r;
    fc_config cfg = {.mode = FC_EXHAUSTED_RETRY_DURATION,
                     .fail_first = 1,
                     .retry_seconds = delays[i].seconds,
                     .retry_nanos = delays[i].nanos};
    run_export(&cfg, fast_options(TIMEOUT_MS), K, &r);
    assert_int_equal(r.exporter_rc, RPCT_OK);
    assert_int_equal(r.n_attempts, 2);
    assert_int_equal(r.attempts[1].answered, GRPC_STATUS_OK);
    assert_true(gap_ms(&r, 0, 1) >= 50);
    assert_accepted_ids(&r);
    assert_stats(&r, (want_stats){.exported = K});
  }
}

/* Headers reach the collector as configured; a list with a value gRPC
 * would refuse (here a token with the CR LF of a file saved on Windows) is
 * refused whole when the exporter is made: the spans still go, without
 * headers, and neither rpctrace nor gRPC core ever shows the token. */
static void test_otlp_grpc_sends_headers_and_none_of_a_refused_list(void **state) {
  (void)state;
  run_result r;
  fc_config cfg = {.mode = FC_ACCEPT, .header_key = "authorization"};
  rpct_otlp_options o = fast_options(TIMEOUT_MS);
  o.headers = "x-tenant=acme,Authorization=Bearer%20s3cr3t";
  run_export(&cfg, o, K, &r);
  assert_int_equal(r.n_attempts, 1);
  assert_true(r.attempts[0].has_header);
  assert_string_equal(r.attempts[0].header_value, "Bearer s3cr3t");
  assert_stats(&r, (want_stats){.exported = K});

  o.headers = "x-tenant=acme,Authorization=Bearer%20s3cr3t%0D%0A";
  run_export(&cfg, o, K, &r);
  assert_int_equal(r.exporter_rc, RPCT_OK);
  assert_int_equal(r.n_attempts, 1);
  assert_false(r.attempts[0].has_header);
  assert_stats(&r, (want_stats){.exported = K});
  assert_int_equal(
      diag_lines_with("rpct_otlp_options.headers member 2 (key \"Authorization\") has a "
                      "value with a byte gRPC does not accept in metadata"),
      1);
  assert_false(diag_shows("s3cr3t"));
}

/* An endpoint with credentials in its userinfo and query: they are not
 * part of the gRPC target (the export reaches the collector) and every
 * message shows them masked; gRPC core never sees them either. */
static void test_otlp_grpc_messages_mask_endpoint_credentials(void **state) {
  (void)state;
  run_result r;
  run_export_to("http://tenant:s3cr3t@127.0.0.1:%d/?token=t0k3n&region=eu",
                &(fc_config){.mode = FC_INVALID_ARGUMENT}, fast_options(TIMEOUT_MS), K, &r);
  assert_int_equal(r.exporter_rc, RPCT_OK);
  assert_int_equal(r.n_attempts, 1);
  assert_int_equal(r.attempts[0].answered, GRPC_STATUS_INVALID_ARGUMENT);
  assert_stats(&r, (want_stats){.failed = K, .failed_exports = 1});
  char want[200];
  snprintf(want, sizeof want,
           "OTLP export to http://***@127.0.0.1:%d/?token=***&region=*** failed: status 3 "
           "(fake collector: invalid argument); 5 spans lost",
           r.port);
  assert_int_equal(diag_lines_with(want), 1);
  snprintf(want, sizeof want,
           "the OTLP endpoint http://***@127.0.0.1:%d/?token=***&region=*** has user "
           "information: it is not sent (give credentials in OTEL_EXPORTER_OTLP_HEADERS)",
           r.port);
  assert_int_equal(diag_lines_with(want), 1);
  assert_false(diag_shows("s3cr3t"));
  assert_false(diag_shows("t0k3n"));
  assert_false(diag_shows("tenant"));
}

/* A processor's shutdown stays within its own timeout although the
 * exporter's is far longer and the collector is down: the processor shuts
 * the exporter down under the export, which cancels its call and backoff. */
static void test_otlp_grpc_shutdown_aborts_an_export_to_a_down_collector(void **state) {
  (void)state;
  char endpoint[64];
  snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", free_port());
  rpct_otlp_options o = {.endpoint = endpoint, .insecure = RPCT_OTLP_PLAINTEXT,
                         .timeout_ms = 20000, .initial_backoff_ms = 50, .max_backoff_ms = 200};
  rpct_exporter *e;
  assert_int_equal(rpct_otlp_exporter_new(&e, &o, NULL), RPCT_OK);
  rpct_batch_options bo = {.max_queue_size = 64, .schedule_delay_ms = 10,
                           .max_export_batch_size = 64, .export_timeout_ms = 30000};
  rpct_processor *p;
  assert_int_equal(rpct_batch_processor_new(&p, e, &bo, NULL), RPCT_OK);
  rpct_span_data d;
  memset(&d, 0, offsetof(rpct_span_data, attrs));
  d.trace_id.bytes[0] = 1;
  d.span_id.bytes[0] = 1;
  d.flags = RPCT_TRACE_FLAG_SAMPLED;
  rpct__processor_on_end(p, &d);
  struct timespec pause = {0, 200 * 1000000}; /* the export is retrying */
  nanosleep(&pause, NULL);
  uint64_t t0 = rpct__now_mono_ns();
  int rc = rpct_processor_shutdown(p, 500);
  uint64_t took_ms = (rpct__now_mono_ns() - t0) / 1000000;
  print_message("shutdown(500) with the collector down took %llu ms (rc %d)\n",
                (unsigned long long)took_ms, rc);
  assert_true(took_ms <= 500 + SLACK_MS);
  t0 = rpct__now_mono_ns();
  rpct_processor_del(p); /* joins the export thread: it has returned or will at once */
  assert_true((rpct__now_mono_ns() - t0) / 1000000 <= SLACK_MS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_otlp_grpc_accept_delivers_every_span_once),
      cmocka_unit_test(test_otlp_grpc_retries_unavailable_until_accepted),
      cmocka_unit_test(test_otlp_grpc_resource_exhausted_waits_retry_info_delay),
      cmocka_unit_test(test_otlp_grpc_resource_exhausted_without_retry_info_fails_once),
      cmocka_unit_test(test_otlp_grpc_invalid_argument_is_not_retried),
      cmocka_unit_test(test_otlp_grpc_partial_success_counts_rejected_and_reports_message),
      cmocka_unit_test(test_otlp_grpc_slow_server_fails_at_the_timeout),
      cmocka_unit_test(test_otlp_grpc_no_server_fails_within_the_timeout),
      cmocka_unit_test(test_otlp_grpc_shutdown_aborts_an_export_to_a_down_collector),
      cmocka_unit_test(test_otlp_grpc_retry_info_zero_is_floored_by_the_backoff),
      cmocka_unit_test(test_otlp_grpc_retry_info_beyond_the_deadline_fails_at_once),
      cmocka_unit_test(test_otlp_grpc_negative_retry_info_is_retried_after_the_floor),
      cmocka_unit_test(test_otlp_grpc_sends_headers_and_none_of_a_refused_list),
      cmocka_unit_test(test_otlp_grpc_messages_mask_endpoint_credentials),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
