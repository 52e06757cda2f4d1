/*
 * Load: 16 client threads x 1,000 unary RPCs (by default) against a server
 * with 4 completion-queue threads (harness.h), in a program linked with
 * rpctrace::wrap. Every span goes through a simple processor into a
 * recording exporter that keeps (trace id, span id, parent id, kind) in an
 * array sized before the run, so recording costs no allocation.
 *
 * Checks: every RPC succeeded; exactly 2 x RPCs spans were exported; span
 * ids are unique; per trace id there is exactly one CLIENT span (a root) and
 * one SERVER span whose parent is that CLIENT span; the tracer counted no
 * span ended twice and as many ended as started; nothing was dropped.
 *
 *   load_test [--threads N] [--rpcs N] [--server-threads N]
 *
 * Client threads share 4 channels; even threads complete their calls with
 * grpc_completion_queue_pluck, odd ones with _next, each on a queue of its
 * own kept for all its calls.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>

#include "harness.h"
#include "rpctrace/rpctrace.h"

#define CHANNELS 4

typedef struct rec {
  rpct_trace_id trace;
  rpct_span_id span, parent;
  uint8_t kind;
} rec;

/* The recording exporter: `recs` sized before the run; written under
 * `lock` (the simple processor serialises exports already; the lock keeps
 * the exporter correct on its own). */
typedef struct recorder {
  pthread_mutex_t lock;
  rec *recs;
  size_t n, cap;
  size_t overflow;
} recorder;

static int rec_export(void *impl, const rpct_span_data *const *spans, size_t n) {
  recorder *r = impl;
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; i < n; i++) {
    if (r->n == r->cap) {
      r->overflow++;
      continue;
    }
    rec *x = &r->recs[r->n++];
    x->trace = spans[i]->trace_id;
    x->span = spans[i]->span_id;
    x->parent = spans[i]->parent_span_id;
    x->kind = spans[i]->kind;
  }
  pthread_mutex_unlock(&r->lock);
  return 0;
}

static const rpct_exporter_ops rec_ops = {.export_spans = rec_export};

typedef struct client_arg {
  int index;
  int rpcs;
  grpc_channel *ch;
  atomic_int *failures;
} client_arg;

static void *client_main(void *p) {
  client_arg *a = p;
  bool next = a->index % 2 == 1;
  grpc_completion_queue *cq =
      next ? grpc_completion_queue_create_for_next(NULL) : grpc_completion_queue_create_for_pluck(NULL);
  th_call_opts o = {.deadline_ms = 30000, .cq = cq, .cq_next = next};
  for (int i = 0; i < a->rpcs; i++) {
    th_result res;
    th_unary(a->ch, "/test.Echo/Unary", "ping", &o, &res);
    if (res.status != GRPC_STATUS_OK || strcmp(res.last, "ping") != 0) {
      if (atomic_fetch_add(a->failures, 1) < 5)
        printf("FAIL client %d rpc %d: status %d \"%s\", reply \"%s\"\n", a->index, i, res.status,
               res.details, res.last);
    }
  }
  grpc_completion_queue_shutdown(cq);
  for (;;) {
    gpr_timespec dl = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                   gpr_time_from_seconds(10, GPR_TIMESPAN));
    grpc_event ev = next ? grpc_completion_queue_next(cq, dl, NULL)
                         : grpc_completion_queue_pluck(cq, NULL, dl, NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
      puts("FAIL a client queue did not drain");
      atomic_fetch_add(a->failures, 1);
      break;
    }
  }
  grpc_completion_queue_destroy(cq);
  return NULL;
}

static int cmp_trace_kind(const void *x, const void *y) {
  const rec *a = x, *b = y;
  int c = memcmp(&a->trace, &b->trace, sizeof a->trace);
  return c ? c : (int)a->kind - (int)b->kind;
}

static int cmp_span(const void *x, const void *y) {
  const rec *a = x, *b = y;
  return memcmp(&a->span, &b->span, sizeof a->span);
}

static int arg_int(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) {
    fprintf(stderr, "%s needs a value\n", argv[*i]);
    exit(2);
  }
  int v = atoi(argv[++*i]);
  if (v <= 0) {
    fprintf(stderr, "%s: bad value %s\n", argv[*i - 1], argv[*i]);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  int threads = 16, rpcs = 1000, server_threads = 4;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads")) threads = arg_int(argc, argv, &i);
    else if (!strcmp(argv[i], "--rpcs")) rpcs = arg_int(argc, argv, &i);
    else if (!strcmp(argv[i], "--server-threads")) server_threads = arg_int(argc, argv, &i);
    else {
      fprintf(stderr, "usage: load_test [--threads N] [--rpcs N] [--server-threads N]\n");
      return 2;
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  size_t total = (size_t)threads * (size_t)rpcs;
  size_t want = 2 * total;

  /* Tracing: always on, simple processor, the recording exporter. */
  recorder *r = calloc(1, sizeof *r);
  if (!r) return 1;
  pthread_mutex_init(&r->lock, NULL);
  r->cap = want + 64;
  r->recs = calloc(r->cap, sizeof *r->recs);
  rpct_exporter *exp = NULL;
  rpct_processor *proc = NULL;
  rpct_sampler *sampler = NULL;
  rpct_tracer_options *o = NULL;
  rpct_tracer *tracer = NULL;
  if (!r->recs || rpct_exporter_new(&exp, &rec_ops, r, NULL) != RPCT_OK ||
      rpct_simple_processor_new(&proc, exp, NULL) != RPCT_OK ||
      rpct_sampler_always_on_new(&sampler, NULL) != RPCT_OK ||
      rpct_tracer_options_new(&o) != RPCT_OK) {
    puts("FAIL setting up tracing");
    return 1;
  }
  rpct_tracer_options_set_sampler(o, sampler);
  rpct_tracer_options_set_processor(o, proc);
  if (rpct_tracer_new(&tracer, o) != RPCT_OK || rpct_init(tracer) != RPCT_OK) {
    puts("FAIL setting up tracing");
    return 1;
  }
  rpct_tracer_options_del(o);

  th_server *srv;
  th_server_options so = {.threads = server_threads, .requests = 8, .no_log = true};
  if (th_server_start(&srv, &so) != 0) {
    puts("FAIL could not start the server");
    return 1;
  }
  grpc_channel *chans[CHANNELS];
  for (int i = 0; i < CHANNELS; i++) chans[i] = th_channel(th_server_port(srv));

  atomic_int failures = 0;
  pthread_t *tids = calloc((size_t)threads, sizeof *tids);
  client_arg *args = calloc((size_t)threads, sizeof *args);
  if (!tids || !args) return 1;
  long long t0 = th_now_ms();
  for (int i = 0; i < threads; i++) {
    args[i] = (client_arg){.index = i, .rpcs = rpcs, .ch = chans[i % CHANNELS], .failures = &failures};
    if (pthread_create(&tids[i], NULL, client_main, &args[i]) != 0) {
      puts("FAIL pthread_create");
      return 1;
    }
  }
  for (int i = 0; i < threads; i++) pthread_join(tids[i], NULL);
  long long ms = th_now_ms() - t0;
  printf("%zu RPCs from %d threads in %lld ms (%.0f RPC/s)\n", total, threads, ms,
         ms ? 1000.0 * (double)total / (double)ms : 0.0);
  if (!th_server_wait_idle(srv, 10000)) {
    puts("FAIL the server still has calls after 10 s");
    failures++;
  }
  for (int i = 0; i < CHANNELS; i++) grpc_channel_destroy(chans[i]);
  th_server_stop(srv);
  rpct_tracer_force_flush(tracer, 10000);

  int bad = atomic_load(&failures);
  if (bad) printf("FAIL %d RPCs did not succeed\n", bad);

  rpct_tracer_stats st;
  rpct_tracer_get_stats(tracer, &st);
  printf("tracer: %llu started, %llu ended, %llu ended twice; processor: %llu accepted, "
         "%llu exported, %llu dropped\n",
         (unsigned long long)st.spans_started, (unsigned long long)st.spans_ended,
         (unsigned long long)st.spans_ended_twice, (unsigned long long)st.processor.accepted,
         (unsigned long long)st.processor.exported,
         (unsigned long long)(st.processor.dropped_full + st.processor.dropped_shutdown));
  if (st.spans_ended_twice) printf("FAIL %llu spans ended twice\n", (unsigned long long)st.spans_ended_twice), bad++;
  if (st.spans_started != want || st.spans_ended != want)
    printf("FAIL %llu spans started, %llu ended, want %zu each\n",
           (unsigned long long)st.spans_started, (unsigned long long)st.spans_ended, want),
        bad++;

  pthread_mutex_lock(&r->lock);
  size_t n = r->n;
  pthread_mutex_unlock(&r->lock);
  printf("exported %zu spans (want %zu)\n", n, want);
  if (n != want || r->overflow) {
    printf("FAIL %zu spans exported (+%zu beyond room), want %zu\n", n, r->overflow, want);
    bad++;
  }

  /* Unique span ids. */
  qsort(r->recs, n, sizeof *r->recs, cmp_span);
  size_t dups = 0;
  for (size_t i = 1; i < n; i++)
    if (!memcmp(&r->recs[i].span, &r->recs[i - 1].span, sizeof r->recs[i].span)) dups++;
  if (dups) printf("FAIL %zu duplicate span ids\n", dups), bad++;

  /* Per trace: one CLIENT root, one SERVER child of it. */
  qsort(r->recs, n, sizeof *r->recs, cmp_trace_kind);
  size_t traces = 0, linked = 0, broken = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && !memcmp(&r->recs[j].trace, &r->recs[i].trace, sizeof r->recs[i].trace)) j++;
    traces++;
    /* Sorted by kind: SERVER (2) before CLIENT (3). */
    const rec *srvr = &r->recs[i], *cli = &r->recs[i + 1];
    bool ok = j - i == 2 && srvr->kind == RPCT_SPAN_KIND_SERVER &&
              cli->kind == RPCT_SPAN_KIND_CLIENT && !rpct_span_id_is_valid(&cli->parent) &&
              !memcmp(&srvr->parent, &cli->span, sizeof cli->span);
    if (ok) {
      linked++;
    } else if (broken++ < 5) {
      char t[33];
      rpct_trace_id_format(&r->recs[i].trace, t, sizeof t);
      printf("FAIL trace %s: %zu spans, not one CLIENT root and one SERVER child of it\n", t,
             j - i);
    }
    i = j;
  }
  printf("%zu traces, %zu correctly linked pairs, %zu broken\n", traces, linked, broken);
  if (traces != total || linked != total) {
    printf("FAIL want %zu traces of one linked pair each\n", total);
    bad++;
  }

  rpct_shutdown(10000);
  rpct_tracer_del(tracer); /* frees the processor, the exporter and `r` is ours */
  free(r->recs);
  pthread_mutex_destroy(&r->lock);
  free(r);
  free(tids);
  free(args);
  puts(bad ? "load: FAILED" : "load: ok");
  return bad ? 1 : 0;
}
