/*
 * Micro-benchmarks of what an RPC pays on rpctrace's own path, and of what
 * the export thread pays per span (a program, not a test: it prints
 * figures). Through the public API only, so the figures stay comparable
 * while the internals change:
 *
 *   1. traceparent parse and format: rpct_traceparent_parse and
 *      rpct_traceparent_format over 256 different headers / contexts in
 *      turn (as successive RPCs carry different ids), ns per call.
 *   2. span record: rpct_span_start (a root CLIENT span, so ids are
 *      generated) + the 6 attributes of a default-conventions client RPC
 *      span + rpct_span_end, which hands the record to a batch processor
 *      (queue 2048, batch 512) whose exporter discards; ns per span. The
 *      spans live in 64 rpct_span structs used in turn, as 64 calls' arenas
 *      would hold them, not one cache-hot struct. Each round records 2048
 *      spans into a drained queue (force_flush between rounds, not timed),
 *      so none is dropped; the export thread runs during the round, on the
 *      other core when there is one, as it does under RPC load.
 *   3. export thread CPU at a paced rate: one producer thread records
 *      spans as in 2 at RATE spans/s (a burst every millisecond, on an
 *      absolute clock) for SECONDS; the export thread (found by its name,
 *      rpctrace-bsp) is timed with its own CPU clock (bench_util.h).
 *      Exporters: OTLP/gRPC to --otlp-endpoint (bench_otlp_sink), which is
 *      what a user runs, and the discarding one (the queue hand-off and
 *      batching alone). "all threads" is the process's CPU time minus the
 *      producer's and the main thread's, so gRPC's own threads working for
 *      the exporter are in it.
 *
 * Each figure of 1 and 2 is the median of REPS repetitions, timed with the
 * measuring thread's own CPU clock (CLOCK_THREAD_CPUTIME_ID): on a shared
 * machine a wall clock would also count the time other jobs held the core.
 * What the thread itself pays (cache misses, contention with the export
 * thread) is in it.
 *
 *   bench_micro [--quick] [--otlp-endpoint HOST:PORT] [--seconds S]
 *
 * Ends with "RESULT name=value" lines for scripts/bench.sh.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "rpctrace/rpctrace.h"

#define REPS 7
#define N_HEADERS 256
#define N_SPANS 64
#define ROUND 2048

static double now_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void check(int r, const char *what) {
  if (r != RPCT_OK) {
    fprintf(stderr, "bench_micro: %s: %s\n", what, rpct_strerror(r));
    exit(1);
  }
}

/* Keeps a value alive without a store the compiler could drop. */
static volatile unsigned sink_u;

/* ---- 1. traceparent ---- */

static void traceparent_bench(int iters, double *parse_ns, double *format_ns) {
  static char headers[N_HEADERS][RPCT_TRACEPARENT_LEN + 1];
  static rpct_span_context ctx[N_HEADERS];
  for (int i = 0; i < N_HEADERS; i++) {
    rpct_trace_id_generate(&ctx[i].trace_id);
    rpct_span_id_generate(&ctx[i].span_id);
    ctx[i].flags = RPCT_TRACE_FLAG_SAMPLED;
    if (rpct_traceparent_format(&ctx[i], headers[i], sizeof headers[i]) != RPCT_TRACEPARENT_LEN)
      check(RPCT_ERR_STATE, "traceparent format");
  }
  double p[REPS], f[REPS];
  rpct_span_context out;
  char buf[RPCT_TRACEPARENT_LEN + 1];
  for (int rep = 0; rep < REPS; rep++) {
    unsigned acc = 0;
    double t0 = now_s(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < iters; i++) {
      acc += (unsigned)rpct_traceparent_parse(headers[i % N_HEADERS], RPCT_TRACEPARENT_LEN, &out);
      acc += out.span_id.bytes[0];
    }
    double t1 = now_s(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < iters; i++) {
      acc += (unsigned)rpct_traceparent_format(&ctx[i % N_HEADERS], buf, sizeof buf);
      acc += (unsigned char)buf[20];
    }
    double t2 = now_s(CLOCK_THREAD_CPUTIME_ID);
    sink_u = acc;
    p[rep] = (t1 - t0) * 1e9 / iters;
    f[rep] = (t2 - t1) * 1e9 / iters;
  }
  *parse_ns = median(p, REPS);
  *format_ns = median(f, REPS);
}

/* ---- spans ---- */

static int discard_export(void *impl, const rpct_span_data *const *spans, size_t n) {
  (void)impl, (void)spans, (void)n;
  return 0;
}
static const rpct_exporter_ops discard_ops = {.export_spans = discard_export};

typedef struct bench_tracer {
  rpct_tracer *tracer;
  rpct_processor *processor; /* owned by the tracer */
} bench_tracer;

/* A tracer with the always_on sampler and a batch processor with the
 * specification's defaults over `e` (taken). */
static bench_tracer tracer_new(rpct_exporter *e) {
  const rpct_batch_options bo = {.max_queue_size = 2048,
                                 .schedule_delay_ms = 5000,
                                 .max_export_batch_size = 512,
                                 .export_timeout_ms = 30000};
  bench_tracer bt;
  rpct_sampler *s;
  rpct_tracer_options *o;
  check(rpct_batch_processor_new(&bt.processor, e, &bo, NULL), "batch processor");
  check(rpct_sampler_always_on_new(&s, NULL), "sampler");
  check(rpct_tracer_options_new(&o), "tracer options");
  rpct_tracer_options_set_sampler(o, s);
  rpct_tracer_options_set_processor(o, bt.processor);
  check(rpct_tracer_new(&bt.tracer, o), "tracer");
  rpct_tracer_options_del(o);
  return bt;
}

static void tracer_del(bench_tracer *bt) {
  check(rpct_tracer_shutdown(bt->tracer, 30000), "tracer shutdown");
  rpct_tracer_del(bt->tracer);
}

/* What a client RPC span records under the default semantic conventions. */
static void record_span(rpct_span *span, rpct_tracer *t, int64_t status) {
  rpct_span_start(span, t, "helloworld.Greeter/SayHello", RPCT_SPAN_KIND_CLIENT, NULL);
  rpct_span_set_str(span, "rpc.system", "grpc");
  rpct_span_set_str(span, "rpc.service", "helloworld.Greeter");
  rpct_span_set_str(span, "rpc.method", "SayHello");
  rpct_span_set_int(span, "rpc.grpc.status_code", status);
  rpct_span_set_str(span, "server.address", "greeter.default.svc.cluster.local");
  rpct_span_set_int(span, "server.port", 50051);
  rpct_span_end(span, 0);
}

/* ---- 2. span record ---- */

static double span_record_bench(int rounds, rpct_span *spans, uint64_t *dropped) {
  rpct_exporter *e;
  check(rpct_exporter_new(&e, &discard_ops, NULL, NULL), "exporter");
  bench_tracer bt = tracer_new(e);
  record_span(&spans[0], bt.tracer, 0); /* warm-up: first use of the id generator */
  double v[REPS];
  for (int rep = 0; rep < REPS; rep++) {
    double busy = 0;
    for (int r = 0; r < rounds; r++) {
      check(rpct_processor_force_flush(bt.processor, 60000), "force flush");
      double t0 = now_s(CLOCK_THREAD_CPUTIME_ID);
      for (int i = 0; i < ROUND; i++) record_span(&spans[i % N_SPANS], bt.tracer, 0);
      busy += now_s(CLOCK_THREAD_CPUTIME_ID) - t0;
    }
    v[rep] = busy * 1e9 / ((double)rounds * ROUND);
  }
  rpct_tracer_stats st;
  rpct_tracer_get_stats(bt.tracer, &st);
  *dropped = st.processor.dropped_full;
  tracer_del(&bt);
  return median(v, REPS);
}

/* ---- 3. export thread CPU at a paced rate ---- */

typedef struct pacer {
  rpct_tracer *tracer;
  rpct_span *spans;
  double rate, seconds;
  double cpu_s; /* the producer's own CPU time */
  unsigned long long n;
  double late_ms; /* how far behind schedule it finished */
} pacer;

static void *pace(void *arg) {
  pacer *p = arg;
  double cpu0 = now_s(CLOCK_THREAD_CPUTIME_ID);
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  double start = (double)next.tv_sec + (double)next.tv_nsec / 1e9;
  long ticks = (long)(p->seconds * 1000);
  double per_tick = p->rate / 1000, owed = 0;
  for (long t = 0; t < ticks; t++) {
    for (owed += per_tick; owed >= 1; owed -= 1)
      record_span(&p->spans[p->n++ % N_SPANS], p->tracer, 0);
    next.tv_nsec += 1000000;
    if (next.tv_nsec >= 1000000000) next.tv_nsec -= 1000000000, next.tv_sec++;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
  p->late_ms = (now_s(CLOCK_MONOTONIC) - start - p->seconds) * 1e3;
  p->cpu_s = now_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  return NULL;
}

typedef struct paced_result {
  double thread_pct;  /* the export thread, % of one core */
  double all_pct;     /* every thread but the producer and main */
  double spans_per_s; /* achieved */
  unsigned long long exported, dropped, failed;
  bool ok;
} paced_result;

static paced_result paced_bench(rpct_exporter *e, double rate, double seconds, rpct_span *spans) {
  paced_result r;
  memset(&r, 0, sizeof r);
  bench_tracer bt = tracer_new(e);
  pid_t tid = bench_find_thread("rpctrace-bsp");
  pacer p = {.tracer = bt.tracer, .spans = spans, .rate = rate, .seconds = seconds};
  double main0 = now_s(CLOCK_THREAD_CPUTIME_ID);
  double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
  double x0 = bench_thread_cpu_s(tid);
  pthread_t th;
  if (pthread_create(&th, NULL, pace, &p)) abort();
  pthread_join(th, NULL);
  /* The spans queued at the end are exported within the window too, so
   * the export thread's work is the work of all spans produced. */
  check(rpct_processor_force_flush(bt.processor, 30000), "force flush");
  double w1 = now_s(CLOCK_MONOTONIC), c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
  double x1 = bench_thread_cpu_s(tid);
  double main1 = now_s(CLOCK_THREAD_CPUTIME_ID);
  rpct_tracer_stats st;
  rpct_tracer_get_stats(bt.tracer, &st);
  r.exported = st.processor.exported;
  r.dropped = st.processor.dropped_full;
  r.failed = st.processor.failed;
  r.ok = tid > 0 && x0 >= 0 && x1 >= 0;
  r.thread_pct = (x1 - x0) / (w1 - w0) * 100;
  r.all_pct = ((c1 - c0) - p.cpu_s - (main1 - main0)) / (w1 - w0) * 100;
  r.spans_per_s = (double)p.n / (seconds + p.late_ms / 1e3);
  tracer_del(&bt);
  return r;
}

static void print_paced(const char *label, double rate, const paced_result *r) {
  printf("   %-28s %9.0f %11.0f %9.3f %9.3f %9llu %8llu %7llu\n", label, rate, r->spans_per_s,
         r->thread_pct, r->all_pct, r->exported, r->dropped, r->failed);
}

int main(int argc, char **argv) {
  bool quick = false;
  const char *endpoint = NULL;
  double seconds = 3;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick"))
      quick = true;
    else if (!strcmp(argv[i], "--otlp-endpoint") && i + 1 < argc)
      endpoint = argv[++i];
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc && atof(argv[i + 1]) > 0)
      seconds = atof(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--quick] [--otlp-endpoint HOST:PORT] [--seconds S]\n", argv[0]);
      return 2;
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (quick) seconds = seconds < 1 ? seconds : 1;
  printf("rpctrace %s micro-benchmarks%s: nproc %ld, median of %d repetitions\n",
         RPCT_VERSION_STRING, quick ? " (--quick)" : "", sysconf(_SC_NPROCESSORS_ONLN), REPS);

  double parse_ns, format_ns;
  traceparent_bench(quick ? 200000 : 2000000, &parse_ns, &format_ns);
  printf("\n1. traceparent, %d different values in turn (ns per call):\n", N_HEADERS);
  printf("   parse  %8.1f   (rpct_traceparent_parse, 55 bytes)\n", parse_ns);
  printf("   format %8.1f   (rpct_traceparent_format)\n", format_ns);

  rpct_span *spans = calloc(N_SPANS, sizeof *spans);
  if (!spans) abort();
  uint64_t dropped = 0;
  double record_ns = span_record_bench(quick ? 4 : 32, spans, &dropped);
  printf(
      "\n2. span record: start (root CLIENT) + 6 attributes + end + enqueue into a batch\n"
      "   processor whose exporter discards; %d spans per round into a drained queue,\n"
      "   %d rpct_span structs (%zu bytes each) in turn\n",
      ROUND, N_SPANS, sizeof(rpct_span));
  printf("   ns per span %8.1f   (dropped: %llu)\n", record_ns, (unsigned long long)dropped);

  printf(
      "\n3. export thread CPU, one producer recording spans as in 2 at a paced rate for %.0f s\n"
      "   (%% of one core; \"all threads\" = process minus producer and main)\n",
      seconds);
  printf("   %-28s %9s %11s %9s %9s %9s %8s %7s\n", "exporter", "rate", "achieved", "thread%",
         "all%", "exported", "dropped", "failed");
  static const double rates[] = {10000, 100000};
  paced_result otlp[2], disc[2];
  bool have_otlp = endpoint != NULL;
  for (int i = 0; i < 2; i++) {
    rpct_exporter *e;
    check(rpct_exporter_new(&e, &discard_ops, NULL, NULL), "exporter");
    disc[i] = paced_bench(e, rates[i], seconds, spans);
    print_paced("discard", rates[i], &disc[i]);
    if (have_otlp) {
      const rpct_otlp_options oo = {.endpoint = endpoint,
                                    .insecure = RPCT_OTLP_PLAINTEXT,
                                    .compression = RPCT_OTLP_COMPRESSION_NONE};
      check(rpct_otlp_exporter_new(&e, &oo, NULL), "OTLP exporter");
      otlp[i] = paced_bench(e, rates[i], seconds, spans);
      char label[64];
      snprintf(label, sizeof label, "OTLP/gRPC to %s", endpoint);
      print_paced(label, rates[i], &otlp[i]);
    }
  }
  if (!have_otlp) printf("   (no --otlp-endpoint: the OTLP/gRPC exporter was not measured)\n");
  free(spans);

  printf("\n");
  printf("RESULT traceparent_parse_ns=%.1f\n", parse_ns);
  printf("RESULT traceparent_format_ns=%.1f\n", format_ns);
  printf("RESULT span_record_ns=%.1f\n", record_ns);
  const char *suffix[] = {"10k", "100k"};
  for (int i = 0; i < 2; i++) {
    if (have_otlp) {
      printf("RESULT export_thread_cpu_pct_at_%s=%.3f\n", suffix[i], otlp[i].thread_pct);
      printf("RESULT export_all_threads_cpu_pct_at_%s=%.3f\n", suffix[i], otlp[i].all_pct);
      printf("RESULT export_dropped_at_%s=%llu\n", suffix[i], otlp[i].dropped);
    }
    printf("RESULT export_thread_cpu_pct_at_%s_discard=%.3f\n", suffix[i], disc[i].thread_pct);
  }
  bool ok = true;
  for (int i = 0; i < 2; i++) {
    ok = ok && disc[i].ok && !disc[i].failed;
    if (have_otlp) ok = ok && otlp[i].ok && !otlp[i].failed;
  }
  if (!ok)
    fprintf(stderr,
            "bench_micro: a paced run failed (export thread not found or exports failed)\n");
  return ok ? 0 : 1;
}
