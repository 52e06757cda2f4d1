/*
 * Benchmark of the exporter module's two costs (a program, not a test: it
 * prints figures):
 *   1. what an RPC pays to hand a finished span to the batch processor
 *      (rpct__processor_on_end with an exporter that discards), with 1 and
 *      4 producer threads;
 *   2. what the export thread pays to encode a batch as OTLP protobuf
 *      (rpct__otlp_encode, 512 spans of 6 attributes per batch).
 * Each figure is the median of REPS repetitions. Times per span are the
 * measuring thread's own CPU time (CLOCK_THREAD_CPUTIME_ID), so the time
 * other jobs of a shared machine held its core is not in them; the
 * aggregate rate is over the wall clock. Usage: bench_export [--quick]
 * Ends with "RESULT name=value" lines for scripts/bench.sh (enqueue figures
 * for the default queue of 2048).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define REPS 7
#define ENCODE_BATCH 512

static double clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* The calling thread's CPU time: what it paid, without the time other jobs
 * of a shared machine held its core. */
static double cpu_ns(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, int r) {
  fprintf(stderr, "bench_export: %s: %s\n", what, rpct_strerror(r));
  exit(1);
}

/* ---- a client RPC span as the filters record it ---- */

static rpct_str put_str(rpct_span_data *d, const char *s) {
  size_t n = strlen(s);
  if (d->strings_used + n + 1 > sizeof d->strings) abort();
  rpct_str r = {.off = d->strings_used, .len = (uint16_t)n};
  memcpy(d->strings + d->strings_used, s, n + 1);
  d->strings_used = (uint16_t)(d->strings_used + n + 1);
  return r;
}

static rpct_span_attr *put_attr(rpct_span_data *d, const char *key, rpct_value_type type) {
  rpct_span_attr *a = &d->attrs[d->n_attrs++];
  a->key = put_str(d, key);
  a->type = (uint8_t)type;
  a->owner = RPCT_ATTR_OWNER_SPAN;
  return a;
}

static void put_attr_str(rpct_span_data *d, const char *key, const char *v) {
  put_attr(d, key, RPCT_VALUE_STRING)->v.s = put_str(d, v);
}

static void put_attr_int(rpct_span_data *d, const char *key, int64_t v) {
  put_attr(d, key, RPCT_VALUE_INT)->v.i = v;
}

static void set_ids(rpct_span_data *d, uint64_t n) {
  for (int i = 0; i < 8; i++) {
    d->span_id.bytes[i] = (uint8_t)(n >> (56 - 8 * i));
    d->trace_id.bytes[8 + i] = (uint8_t)((n * 0x9e3779b97f4a7c15u) >> (56 - 8 * i));
  }
  d->trace_id.bytes[0] = 0x4b;
}

/* The six attributes of the default semantic conventions' client span. */
static void rpc_span(rpct_span_data *d, uint64_t n, const rpct_resource *res) {
  memset(d, 0, sizeof *d);
  set_ids(d, n);
  d->flags = RPCT_TRACE_FLAG_SAMPLED;
  d->kind = RPCT_SPAN_KIND_CLIENT;
  d->status_code = RPCT_STATUS_UNSET;
  d->name = put_str(d, "helloworld.Greeter/SayHello");
  d->start_unix_ns = UINT64_C(1700000000000000000) + n * 1000;
  d->end_unix_ns = d->start_unix_ns + 250000;
  d->resource = res;
  d->scope_name = "rpctrace";
  d->scope_version = RPCT_VERSION_STRING;
  put_attr_str(d, "rpc.system", "grpc");
  put_attr_str(d, "rpc.service", "helloworld.Greeter");
  put_attr_str(d, "rpc.method", "SayHello");
  put_attr_int(d, "rpc.grpc.status_code", 0);
  put_attr_str(d, "server.address", "greeter.default.svc.cluster.local");
  put_attr_int(d, "server.port", 50051);
}

/* ---- 1. enqueue ---- */

static int discard(void *impl, const rpct_span_data *const *spans, size_t n) {
  (void)impl, (void)spans, (void)n;
  return 0;
}

static const rpct_exporter_ops discard_ops = {.export_spans = discard};

typedef struct producer {
  rpct_processor *p;
  pthread_barrier_t *start;
  size_t n;
  uint64_t first;
  double t0, t1; /* wall clock */
  double cpu;    /* the thread's CPU time over the loop */
} producer;

static void *produce(void *arg) {
  producer *pr = arg;
  rpct_span_data *d = malloc(sizeof *d);
  if (!d) abort();
  rpc_span(d, pr->first, NULL);
  pthread_barrier_wait(pr->start);
  pr->t0 = now_ns();
  double c0 = cpu_ns();
  for (size_t i = 0; i < pr->n; i++) {
    d->span_id.bytes[7] = (uint8_t)i; /* a store into the record, as a real span's end makes */
    rpct__processor_on_end(pr->p, d);
  }
  pr->cpu = cpu_ns() - c0;
  pr->t1 = now_ns();
  free(d);
  return NULL;
}

typedef struct enqueue_result {
  double ns_per_span; /* CPU time of a producer per span: mean over producers */
  double spans_per_s; /* all producers together */
  uint64_t dropped;
} enqueue_result;

/* Each repetition offers `per_rep` spans in rounds of `queue` spans; every
 * round starts from a drained queue (force_flush, not timed), so nothing
 * can be dropped however the export thread is scheduled. */
static enqueue_result bench_enqueue(int threads, uint32_t queue, uint32_t per_rep) {
  rpct_exporter *e;
  int r = rpct_exporter_new(&e, &discard_ops, NULL, NULL);
  if (r) die("exporter", r);
  rpct_batch_options o = {.max_queue_size = queue,
                          .schedule_delay_ms = 5000,
                          .max_export_batch_size = 512,
                          .export_timeout_ms = 30000};
  rpct_processor *p;
  if ((r = rpct_batch_processor_new(&p, e, &o, NULL))) die("batch processor", r);
  double per_span[REPS], rate[REPS];
  size_t per_thread = queue / (uint32_t)threads;
  for (int rep = 0; rep < REPS; rep++) {
    double busy[8] = {0}, wall = 0;
    size_t rounds = per_rep / queue;
    for (size_t round = 0; round < rounds; round++) {
      if ((r = rpct_processor_force_flush(p, 60000))) die("force_flush", r);
      pthread_barrier_t start;
      pthread_barrier_init(&start, NULL, (unsigned)threads);
      producer pr[8];
      pthread_t t[8];
      for (int i = 0; i < threads; i++) {
        pr[i] = (producer){.p = p,
                           .start = &start,
                           .n = per_thread,
                           .first = ((uint64_t)rep << 40) | ((uint64_t)round << 8)};
        if (pthread_create(&t[i], NULL, produce, &pr[i])) abort();
      }
      double first = 0, last = 0;
      for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        busy[i] += pr[i].cpu;
        if (i == 0 || pr[i].t0 < first) first = pr[i].t0;
        if (i == 0 || pr[i].t1 > last) last = pr[i].t1;
      }
      pthread_barrier_destroy(&start);
      wall += last - first;
    }
    double sum = 0;
    for (int i = 0; i < threads; i++) sum += busy[i] / (double)(per_thread * rounds);
    per_span[rep] = sum / threads;
    rate[rep] = (double)(per_thread * rounds * (size_t)threads) / (wall / 1e9);
  }
  if ((r = rpct_processor_shutdown(p, 60000))) die("shutdown", r);
  rpct_processor_stats s;
  rpct_processor_get_stats(p, &s);
  rpct_processor_del(p);
  return (enqueue_result){median(per_span, REPS), median(rate, REPS), s.dropped_full};
}

/* The record copy alone, the floor under the enqueue cost. */
static double bench_copy(uint32_t n) {
  rpct_span_data *src = malloc(sizeof *src), *dst = malloc(sizeof *dst);
  if (!src || !dst) abort();
  rpc_span(src, 1, NULL);
  double v[REPS];
  for (int rep = 0; rep < REPS; rep++) {
    double t0 = cpu_ns();
    for (uint32_t i = 0; i < n; i++) {
      rpct_span_data_copy(dst, src);
      __asm__ volatile("" : : "r"(dst) : "memory"); /* keep the copy */
    }
    v[rep] = (cpu_ns() - t0) / n;
  }
  free(src);
  free(dst);
  return median(v, REPS);
}

/* ---- 2. OTLP encode ---- */

typedef struct encode_result {
  double spans_per_s;
  double us_per_batch;
  size_t bytes_per_batch;
} encode_result;

static encode_result bench_encode(int batches) {
  rpct_resource *res;
  int r = rpct_resource_new(&res, NULL);
  if (r) die("resource", r);
  rpct_resource_set(res, "service.name", "greeter-client");
  rpct_span_data *spans = malloc(ENCODE_BATCH * sizeof *spans);
  const rpct_span_data **ptr = malloc(ENCODE_BATCH * sizeof *ptr);
  if (!spans || !ptr) abort();
  for (size_t i = 0; i < ENCODE_BATCH; i++) {
    rpc_span(&spans[i], i + 1, res);
    ptr[i] = &spans[i];
  }
  size_t bytes = 0;
  double v[REPS];
  for (int rep = 0; rep < REPS; rep++) {
    double t0 = cpu_ns();
    for (int b = 0; b < batches; b++) {
      uint8_t *out = NULL;
      size_t len = 0;
      if ((r = rpct__otlp_encode(ptr, ENCODE_BATCH, NULL, &out, &len))) die("otlp encode", r);
      bytes = len;
      rpct__free(NULL, out);
    }
    v[rep] = (cpu_ns() - t0) / batches;
  }
  free(ptr);
  free(spans);
  rpct_resource_del(res);
  double ns_per_batch = median(v, REPS);
  return (encode_result){ENCODE_BATCH / (ns_per_batch / 1e9), ns_per_batch / 1e3, bytes};
}

int main(int argc, char **argv) {
  bool quick = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
      return 2;
    }
  }
  uint32_t per_rep = quick ? 8192 : 65536; /* spans per repetition = queue size */
  int batches = quick ? 5 : 50;

  printf("rpctrace %s exporter benchmark%s: nproc %ld, median of %d repetitions\n",
         RPCT_VERSION_STRING, quick ? " (--quick)" : "", sysconf(_SC_NPROCESSORS_ONLN), REPS);
  rpct_span_data *sample = malloc(sizeof *sample);
  if (!sample) abort();
  rpc_span(sample, 1, NULL);
  size_t used = offsetof(rpct_span_data, attrs) + sample->n_attrs * sizeof sample->attrs[0] +
                sample->strings_used; /* what rpct_span_data_copy moves */
  free(sample);
  printf("span record: %zu bytes; a client RPC span with 6 attributes copies %zu of them\n\n",
         sizeof(rpct_span_data), used);

  printf(
      "1. enqueue: rpct__processor_on_end -> batch processor (batch 512), exporter\n"
      "   discards; %u spans per repetition, offered in rounds of one queue's worth\n"
      "   into a drained queue\n",
      per_rep);
  printf("   %-34s %14s %12s %8s\n", "", "CPU ns/span", "aggregate", "dropped");
  printf("   %-34s %14s %12s %8s\n", "", "(per producer)", "(Mspans/s)", "");
  printf("   %-34s %14.1f %12s %8s\n", "record copy alone (cache-hot)", bench_copy(per_rep), "-",
         "-");
  static const uint32_t queues[] = {2048, 65536};
  static const int producers[] = {1, 4};
  enqueue_result at_default[2]; /* queue 2048, the specification's default */
  for (size_t q = 0; q < 2; q++) {
    uint32_t queue = quick && queues[q] > per_rep ? per_rep : queues[q];
    for (size_t i = 0; i < 2; i++) {
      enqueue_result er = bench_enqueue(producers[i], queue, per_rep);
      if (q == 0) at_default[i] = er;
      char label[64];
      snprintf(label, sizeof label, "queue %5u, %d producer thread%s", queue, producers[i],
               producers[i] > 1 ? "s" : "");
      printf("   %-34s %14.1f %12.2f %8llu\n", label, er.ns_per_span, er.spans_per_s / 1e6,
             (unsigned long long)er.dropped);
    }
  }

  if (sysconf(_SC_NPROCESSORS_ONLN) < 5)
    printf(
        "   (4 producers and the export thread share %ld cores: the aggregate rate is\n"
        "   bounded by the cores, not by the queue)\n",
        sysconf(_SC_NPROCESSORS_ONLN));

  encode_result enc = bench_encode(batches);
  printf(
      "\n2. OTLP encode: rpct__otlp_encode, %d spans x 6 attributes per batch,\n"
      "   %d batches per repetition\n",
      ENCODE_BATCH, batches);
  printf("   %14s %14s %16s %12s\n", "bytes/batch", "us/batch", "spans/s", "MB/s");
  printf("   %14zu %14.1f %16.0f %12.1f\n", enc.bytes_per_batch, enc.us_per_batch, enc.spans_per_s,
         (double)enc.bytes_per_batch / (enc.us_per_batch / 1e6) / 1e6);

  /* For scripts/bench.sh. */
  printf("\nRESULT enqueue_ns_1_producer=%.1f\n", at_default[0].ns_per_span);
  printf("RESULT enqueue_ns_4_producers=%.1f\n", at_default[1].ns_per_span);
  printf("RESULT enqueue_mspans_per_s_4_producers=%.2f\n", at_default[1].spans_per_s / 1e6);
  printf("RESULT enqueue_dropped=%llu\n",
         (unsigned long long)(at_default[0].dropped + at_default[1].dropped));
  printf("RESULT otlp_encode_spans_per_s=%.0f\n", enc.spans_per_s);
  return 0;
}
