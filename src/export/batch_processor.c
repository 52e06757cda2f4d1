/*
 * Batch span processor (OpenTelemetry SDK BatchSpanProcessor): RPC threads
 * copy finished span records into a bounded, pre-allocated ring; one export
 * thread drains it in batches. Every allocation happens in the constructor.
 *
 * The ring (why lock-free): on_end runs on every RPC thread, so it takes no
 * lock and makes no system call (save the one producer per batch that
 * wakes the export thread, below). It is a bounded multi-producer queue in
 * the style of D. Vyukov's: each slot carries a sequence number saying
 * whose turn it is. A producer claims position `pos` by a CAS on `tail`
 * when its slot's sequence equals `pos` (the slot is free), copies the
 * record in, then publishes by storing pos + 1. The single consumer takes a
 * slot whose sequence is head + 1 and frees it for the next lap by storing
 * head + capacity. A slot still holding the previous lap means the ring is
 * full: the span is dropped and counted; a producer never waits. Positions
 * are 64-bit and never wrap in practice; bit 63 of `tail` is the "shut
 * down" flag, set with one fetch_or, so a claim and a shutdown are ordered
 * by the same CAS and no span is accepted after shutdown has read the final
 * position.
 *
 * Accounting: `tail` counts claims, so it *is* the accepted counter, and
 * queued is computed as accepted - (exported + rejected + failed). The
 * invariant of rpct_processor_stats therefore holds in every snapshot, and
 * a span in a batch being exported still counts as queued until its export
 * returns.
 *
 * Batches are copied out (why): the export thread copies up to
 * max_export_batch_size records into a buffer of its own and frees their
 * slots before calling the exporter. Producers keep the whole ring while an
 * export is in progress, as the specification's queue size means, at the
 * cost of one more buffer and one copy per span on the export thread.
 *
 * Wakeup (why a condition variable only at batch boundaries): the export
 * thread sleeps on a condition variable until its schedule delay, a flush
 * or shutdown, or a full batch. After each take it publishes
 * `wake_at` = head + batch size; the one producer that claims position
 * wake_at - 1 is the one that makes the ring hold a full batch, and only it
 * locks the mutex and signals, so there is one lock and at most one futex
 * call per batch, none per span. The thread reads `tail` under the mutex
 * before sleeping and both sides use sequentially consistent accesses to
 * `tail` and `wake_at`, so that signal cannot be lost. The mutex is never
 * held while the exporter runs.
 *
 * Timeouts and a stuck exporter: the exporter is always called from the
 * export thread, so export, force_flush and shutdown never overlap.
 * export_timeout_ms (OTEL_BSP_EXPORT_TIMEOUT) is enforced by a second,
 * sleeping thread, the watchdog: the export thread tells it when an export
 * starts (under the mutex, once per batch); an export still running at
 * its deadline is abandoned there and then: its batch is counted failed
 * (failed, failed_exports), reported once, and what the call returns later
 * is ignored. The exporter API has no way to interrupt one export and keep
 * the exporter usable (its shutdown interrupts for good), so the next batch
 * waits until the abandoned call returns; meanwhile the queue keeps taking
 * spans and drops those that do not fit, counted. The default pipeline
 * (from_env.c) gives the OTLP exporter a timeout that ends a little before
 * this one, so its exports end by themselves before they are abandoned.
 * force_flush and shutdown wait on a condition variable with their deadline
 * and return RPCT_ERR_TIMEOUT when it passes, whatever the exporter does.
 * force_flush exports what was queued when it was called, then calls the
 * exporter's force_flush with the time left; it returns RPCT_ERR_EXPORT
 * when an export failed (or was abandoned) while it waited, else the
 * exporter's error, if any. Shutdown likewise returns RPCT_ERR_EXPORT when
 * one of its final exports failed.
 * After a shutdown deadline the thread exports nothing more (what is left
 * stays counted as queued), calls the exporter's shutdown with the time
 * left (0) as soon as the export in progress returns, and exits.
 * rpct_processor_del() joins both threads before freeing anything they
 * use, so with an export still in progress, del waits for it to return:
 * memory is never freed under a running exporter.
 *
 * fork(): the processor handle (processor.c) never calls a processor a
 * child inherited, so nothing here runs in a child but stats, which reads
 * atomics only.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "deferred.h"
#include "internal.h"

#define DEFAULT_QUEUE_SIZE 2048u
#define DEFAULT_SCHEDULE_DELAY_MS 5000u
#define DEFAULT_BATCH_SIZE 512u
#define DEFAULT_EXPORT_TIMEOUT_MS 30000u
/* One slot is a whole rpct_span_data (3.5 KiB): 1 Mi slots is 3.5 GiB. */
#define MAX_QUEUE_SIZE (UINT32_C(1) << 20)

#define CLOSED_BIT (UINT64_C(1) << 63)
#define NS_PER_MS UINT64_C(1000000)
#define CACHE_LINE 64

typedef struct slot {
  /* pos: free for the producer of pos; pos + 1: holds its record. */
  _Atomic uint64_t seq;
  /* A finished span record, or a deferred one (deferred.h), copied as it
   * is and built by the export thread: only the used bytes are written. */
  bool deferred;
  union {
    rpct_span_data data;
    unsigned char deferred_rec[RPCT__DEFERRED_MAX];
  } u;
} slot;

typedef struct bsp {
  /* Set by the constructor, read-only afterwards. */
  rpct_exporter *exporter; /* owned */
  slot *slots;
  uint64_t cap;
  uint64_t mask; /* cap - 1 when cap is a power of two, else 0 (use %) */
  uint32_t batch_size;
  uint32_t export_timeout_ms;
  uint64_t export_timeout_ns;
  uint64_t delay_ns;
  rpct_span_data *batch;            /* batch_size records, export thread only */
  rpct_span scratch;                /* export thread only: where deferred records are built */
  const rpct_span_data **batch_ptr; /* batch_ptr[i] == &batch[i] */
  rpct_allocator alloc;
  bool has_alloc;
  /* Padding keeps the lines producers write apart from everything else
   * (the allocator gives no 64-byte alignment, so no _Alignas). */
  char pad0[CACHE_LINE];

  /* Written by producers on every accepted span. */
  _Atomic uint64_t tail;    /* next position to claim; | CLOSED_BIT after shutdown */
  _Atomic uint64_t wake_at; /* stored by the export thread after each take */
  char pad1[CACHE_LINE];

  /* Written by producers when they drop a span. */
  atomic_uint_fast64_t dropped_full;
  atomic_uint_fast64_t dropped_shutdown;
  char pad2[CACHE_LINE];

  /* Export thread only (the thread's private position), and its counters,
   * read by stats() on any thread. */
  uint64_t head;
  atomic_uint_fast64_t exported;
  atomic_uint_fast64_t rejected;
  atomic_uint_fast64_t failed;
  atomic_uint_fast64_t failed_exports;
  char pad3[CACHE_LINE];

  /* Requests to the export thread and its answers: all under `lock`, which
   * is never held while the exporter runs. */
  pthread_mutex_t lock;
  pthread_cond_t wake;        /* the export thread waits here */
  pthread_cond_t done;        /* force_flush and shutdown wait here */
  uint64_t flush_target;      /* export everything below this position */
  uint64_t flush_deadline_ns; /* latest deadline of the flushes asked for */
  uint64_t flush_asked;       /* flush requests so far */
  uint64_t flush_done;        /* requests answered (exported, exporter flushed) */
  int flush_result;           /* the exporter's force_flush, latest */
  bool closing;               /* shutdown asked */
  uint64_t close_deadline_ns;
  bool stopping;  /* del: exit without exporting */
  bool finished;  /* the thread is done with the exporter */
  bool abandoned; /* the shutdown deadline passed with spans still queued */
  int shutdown_result;
  pthread_t thread;
  bool thread_started; /* set by the constructor */
  bool joined;         /* set by the shutdown that joined the thread */

  /* The export in progress, between the export thread and the watchdog
   * (under `lock` too). */
  pthread_cond_t watch;        /* the watchdog waits here */
  bool exporting;              /* an export call is running */
  bool export_abandoned;       /* ... and ran past its deadline: counted failed */
  size_t export_n;             /* its batch size */
  uint64_t export_deadline_ns; /* when it is abandoned */
  bool watchdog_idle;          /* waiting with no deadline: needs a signal */
  bool watchdog_stop;
  pthread_t watchdog;
  bool watchdog_started; /* set by the constructor */
  bool watchdog_joined;
} bsp;

/* ---- options ---- */

static void lower_batch_to_queue(rpct_batch_options *o) {
  if (o->max_export_batch_size <= o->max_queue_size) return;
  rpct__diag_once("OTEL_BSP_MAX_EXPORT_BATCH_SIZE>queue",
                  "the export batch size %" PRIu32
                  " (OTEL_BSP_MAX_EXPORT_BATCH_SIZE) is above the queue size %" PRIu32
                  " (OTEL_BSP_MAX_QUEUE_SIZE); using %" PRIu32,
                  o->max_export_batch_size, o->max_queue_size, o->max_queue_size);
  o->max_export_batch_size = o->max_queue_size;
}

void rpct_batch_options_from_env(rpct_batch_options *out) {
  if (!out) return;
  out->max_queue_size =
      (uint32_t)rpct__env_uint("OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_QUEUE_SIZE, 1, MAX_QUEUE_SIZE);
  /* 0 would make the thread spin; one millisecond is the floor. */
  out->schedule_delay_ms =
      (uint32_t)rpct__env_uint("OTEL_BSP_SCHEDULE_DELAY", DEFAULT_SCHEDULE_DELAY_MS, 1, UINT32_MAX);
  out->max_export_batch_size = (uint32_t)rpct__env_uint("OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                                                        DEFAULT_BATCH_SIZE, 1, MAX_QUEUE_SIZE);
  out->export_timeout_ms =
      (uint32_t)rpct__env_uint("OTEL_BSP_EXPORT_TIMEOUT", DEFAULT_EXPORT_TIMEOUT_MS, 1, UINT32_MAX);
  lower_batch_to_queue(out);
}

/* The options the processor runs with: code, else environment; zero fields
 * take the defaults; sizes brought within range. */
static rpct_batch_options resolve_options(const rpct_batch_options *opts) {
  rpct_batch_options o;
  if (!opts) {
    rpct_batch_options_from_env(&o);
    return o;
  }
  o = *opts;
  if (o.max_queue_size == 0) o.max_queue_size = DEFAULT_QUEUE_SIZE;
  if (o.schedule_delay_ms == 0) o.schedule_delay_ms = DEFAULT_SCHEDULE_DELAY_MS;
  if (o.max_export_batch_size == 0) o.max_export_batch_size = DEFAULT_BATCH_SIZE;
  if (o.export_timeout_ms == 0) o.export_timeout_ms = DEFAULT_EXPORT_TIMEOUT_MS;
  if (o.max_queue_size > MAX_QUEUE_SIZE) {
    rpct__diag_once("OTEL_BSP_MAX_QUEUE_SIZE>max",
                    "the queue size %" PRIu32 " (OTEL_BSP_MAX_QUEUE_SIZE) is above %" PRIu32
                    "; using %" PRIu32,
                    o.max_queue_size, MAX_QUEUE_SIZE, MAX_QUEUE_SIZE);
    o.max_queue_size = MAX_QUEUE_SIZE;
  }
  lower_batch_to_queue(&o);
  return o;
}

/* ---- time ---- */

static struct timespec to_timespec(uint64_t ns) {
  return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
                           .tv_nsec = (long)(ns % 1000000000u)};
}

/* Milliseconds left until `deadline_ns`, rounded up; 0 once it passed. */
static uint32_t ms_left(uint64_t deadline_ns) {
  uint64_t now = rpct__now_mono_ns();
  if (now >= deadline_ns) return 0;
  uint64_t ms = (deadline_ns - now + NS_PER_MS - 1) / NS_PER_MS;
  return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* Wait on `cv` (whose clock is CLOCK_MONOTONIC) until `deadline_ns`.
 * false once the deadline has passed. */
static bool wait_until(pthread_cond_t *cv, pthread_mutex_t *m, uint64_t deadline_ns) {
  if (rpct__now_mono_ns() >= deadline_ns) return false;
  struct timespec ts = to_timespec(deadline_ns);
  return pthread_cond_timedwait(cv, m, &ts) != ETIMEDOUT;
}

/* ---- the ring ---- */

static slot *slot_at(const bsp *b, uint64_t pos) {
  return &b->slots[b->mask ? (pos & b->mask) : (pos % b->cap)];
}

static uint64_t count_read(atomic_uint_fast64_t *c) {
  return atomic_load_explicit(c, memory_order_acquire);
}

static void count_add(atomic_uint_fast64_t *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_release);
}

static void wake_export_thread(bsp *b) {
  pthread_mutex_lock(&b->lock);
  pthread_cond_signal(&b->wake);
  pthread_mutex_unlock(&b->lock);
}

/* Claim the next free slot for a sampled span, or count the drop: NULL. */
static slot *claim(bsp *b, uint64_t *pos_out) {
  uint64_t pos = atomic_load_explicit(&b->tail, memory_order_relaxed);
  for (;;) {
    if (pos & CLOSED_BIT) {
      count_add(&b->dropped_shutdown, 1);
      return NULL;
    }
    slot *s = slot_at(b, pos);
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
    int64_t lap = (int64_t)(seq - pos);
    if (lap == 0) {
      /* Free: claim it. On failure `pos` is reloaded. */
      if (atomic_compare_exchange_weak_explicit(&b->tail, &pos, pos + 1, memory_order_seq_cst,
                                                memory_order_relaxed)) {
        *pos_out = pos;
        return s;
      }
    } else if (lap < 0) {
      /* Still holds the record from one lap ago: the ring is full. */
      count_add(&b->dropped_full, 1);
      return NULL;
    } else {
      pos = atomic_load_explicit(&b->tail, memory_order_relaxed); /* lost a race */
    }
  }
}

static void publish(bsp *b, slot *s, uint64_t pos) {
  atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
  if (pos + 1 == atomic_load_explicit(&b->wake_at, memory_order_seq_cst)) wake_export_thread(b);
}

static void bsp_on_end(void *impl, const rpct_span_data *d) {
  bsp *b = impl;
  if (!(d->flags & RPCT_TRACE_FLAG_SAMPLED)) return;
  uint64_t pos;
  slot *s = claim(b, &pos);
  if (!s) return;
  s->deferred = false;
  rpct_span_data_copy(&s->u.data, d);
  publish(b, s, pos);
}

static void bsp_on_end_deferred(void *impl, const rpct__deferred *d) {
  bsp *b = impl;
  if (!(d->flags & RPCT_TRACE_FLAG_SAMPLED)) return;
  uint64_t pos;
  slot *s = claim(b, &pos);
  if (!s) return;
  s->deferred = true;
  memcpy(s->u.deferred_rec, d, d->size);
  publish(b, s, pos);
}

/* Export thread: move up to batch_size published records from the ring
 * into the batch buffer, freeing their slots. Stops early at a slot whose
 * producer has claimed but not yet published it. */
static size_t take_batch(bsp *b) {
  size_t n = 0;
  while (n < b->batch_size) {
    slot *s = slot_at(b, b->head);
    if (atomic_load_explicit(&s->seq, memory_order_acquire) != b->head + 1) break;
    if (s->deferred) {
      /* Built here, off the RPC path (deferred.h). */
      rpct__deferred_materialize((const rpct__deferred *)s->u.deferred_rec, &b->scratch);
      rpct_span_data_copy(&b->batch[n++], &b->scratch.data_);
    } else {
      rpct_span_data_copy(&b->batch[n++], &s->u.data);
    }
    atomic_store_explicit(&s->seq, b->head + b->cap, memory_order_release);
    b->head++;
  }
  if (n) atomic_store_explicit(&b->wake_at, b->head + b->batch_size, memory_order_seq_cst);
  return n;
}

static void export_batch(bsp *b, size_t n) {
  pthread_mutex_lock(&b->lock);
  b->exporting = true;
  b->export_abandoned = false;
  b->export_n = n;
  b->export_deadline_ns = rpct__now_mono_ns() + b->export_timeout_ns;
  if (b->watchdog_idle) pthread_cond_signal(&b->watch);
  pthread_mutex_unlock(&b->lock);
  int r = rpct_exporter_export(b->exporter, b->batch_ptr, n);
  pthread_mutex_lock(&b->lock);
  b->exporting = false;
  bool abandoned = b->export_abandoned;
  pthread_mutex_unlock(&b->lock);
  if (abandoned) return; /* the watchdog counted it failed at its deadline */
  if (r < 0) {
    count_add(&b->failed, n);
    count_add(&b->failed_exports, 1);
    rpct__diag_once("batch_processor.export",
                    "span export failed: %s (later failures are only counted)", rpct_strerror(r));
  } else {
    count_add(&b->rejected, (uint64_t)r);
    count_add(&b->exported, n - (size_t)r);
  }
}

/* The watchdog: abandons an export that runs past export_timeout_ms. It
 * sleeps without a deadline while no export runs, so an idle processor
 * wakes it never. */
static void *watchdog_thread(void *arg) {
  bsp *b = arg;
  pthread_mutex_lock(&b->lock);
  while (!b->watchdog_stop) {
    if (!b->exporting || b->export_abandoned) {
      b->watchdog_idle = true;
      pthread_cond_wait(&b->watch, &b->lock);
      b->watchdog_idle = false;
      continue;
    }
    /* Woken early (stop, or a spurious wakeup): look again. An export that
     * ended and a next one that began meanwhile has a later deadline. */
    if (wait_until(&b->watch, &b->lock, b->export_deadline_ns)) continue;
    if (b->watchdog_stop || !b->exporting || b->export_abandoned ||
        rpct__now_mono_ns() < b->export_deadline_ns)
      continue;
    b->export_abandoned = true;
    size_t n = b->export_n;
    count_add(&b->failed, n);
    count_add(&b->failed_exports, 1);
    pthread_mutex_unlock(&b->lock);
    rpct__diag_once("OTEL_BSP_EXPORT_TIMEOUT.exceeded",
                    "an export ran past the export timeout of %" PRIu32
                    " ms (OTEL_BSP_EXPORT_TIMEOUT): its %zu spans are counted failed, and the "
                    "next batch waits for the exporter to return (later overruns are only "
                    "counted)",
                    b->export_timeout_ms, n);
    pthread_mutex_lock(&b->lock);
  }
  pthread_mutex_unlock(&b->lock);
  return NULL;
}

static void stop_watchdog(bsp *b) {
  if (!b->watchdog_started || b->watchdog_joined) return;
  pthread_mutex_lock(&b->lock);
  b->watchdog_stop = true;
  pthread_cond_signal(&b->watch);
  pthread_mutex_unlock(&b->lock);
  pthread_join(b->watchdog, NULL);
  b->watchdog_joined = true;
}

static uint64_t tail_pos(bsp *b) {
  return atomic_load_explicit(&b->tail, memory_order_seq_cst) & ~CLOSED_BIT;
}

static void *export_thread(void *arg) {
  bsp *b = arg;
  uint64_t next_export = rpct__now_mono_ns() + b->delay_ns;
  unsigned idle_spins = 0;
  pthread_mutex_lock(&b->lock);
  for (;;) {
    if (b->stopping && !b->closing) break;
    uint64_t now = rpct__now_mono_ns();
    bool give_up = b->closing && (b->stopping || now >= b->close_deadline_ns);
    if (give_up && !b->abandoned && tail_pos(b) > b->head) b->abandoned = true;
    uint64_t queued = tail_pos(b) - b->head; /* claimed, not yet taken */
    bool due = queued > 0 && !give_up &&
               (queued >= b->batch_size || b->flush_target > b->head || now >= next_export);
    if (due) {
      pthread_mutex_unlock(&b->lock);
      size_t n = take_batch(b);
      if (n > 0) {
        idle_spins = 0;
        export_batch(b, n);
        next_export = rpct__now_mono_ns() + b->delay_ns;
      } else if (++idle_spins < 64) {
        sched_yield(); /* a producer is between its claim and its publish */
      } else {
        nanosleep(&(struct timespec){.tv_nsec = 50000}, NULL);
      }
      pthread_mutex_lock(&b->lock);
      continue;
    }
    if (!give_up && b->flush_done < b->flush_asked) {
      /* Everything below flush_target is exported: flush the exporter. */
      uint64_t asked = b->flush_asked, deadline = b->flush_deadline_ns;
      pthread_mutex_unlock(&b->lock);
      int r = rpct_exporter_force_flush(b->exporter, ms_left(deadline));
      pthread_mutex_lock(&b->lock);
      b->flush_done = asked;
      b->flush_result = r;
      pthread_cond_broadcast(&b->done);
      continue;
    }
    if (b->closing) {
      uint64_t deadline = b->close_deadline_ns;
      pthread_mutex_unlock(&b->lock);
      int r = rpct_exporter_shutdown(b->exporter, give_up ? 0 : ms_left(deadline));
      pthread_mutex_lock(&b->lock);
      b->shutdown_result = r;
      b->finished = true;
      pthread_cond_broadcast(&b->done);
      break;
    }
    if (queued == 0 && now >= next_export) next_export = now + b->delay_ns;
    wait_until(&b->wake, &b->lock, next_export);
  }
  pthread_mutex_unlock(&b->lock);
  return NULL;
}

/* ---- ops ---- */

/* `r`, or RPCT_ERR_EXPORT when it is RPCT_OK but an export failed since
 * `failed_before` was read: what the caller waited for was not all
 * delivered. */
static int unless_failed(bsp *b, int r, uint64_t failed_before) {
  if (r == RPCT_OK && count_read(&b->failed_exports) != failed_before) return RPCT_ERR_EXPORT;
  return r;
}

static int bsp_force_flush(void *impl, uint32_t timeout_ms) {
  bsp *b = impl;
  uint64_t deadline = rpct__now_mono_ns() + timeout_ms * NS_PER_MS;
  uint64_t failed_before = count_read(&b->failed_exports);
  int r;
  pthread_mutex_lock(&b->lock);
  if (b->closing) {
    /* Shutdown flushes everything; wait for it instead. */
    while (!b->finished && wait_until(&b->done, &b->lock, deadline)) continue;
    r = b->finished && !b->abandoned ? RPCT_OK : RPCT_ERR_TIMEOUT;
  } else {
    uint64_t target = tail_pos(b);
    if (target > b->flush_target) b->flush_target = target;
    if (deadline > b->flush_deadline_ns) b->flush_deadline_ns = deadline;
    uint64_t mine = ++b->flush_asked;
    pthread_cond_signal(&b->wake);
    while (b->flush_done < mine && !b->finished && wait_until(&b->done, &b->lock, deadline))
      continue;
    if (b->flush_done >= mine)
      r = b->flush_result < 0 ? b->flush_result : RPCT_OK;
    else if (b->finished && !b->abandoned)
      r = RPCT_OK; /* a concurrent shutdown exported it all */
    else
      r = RPCT_ERR_TIMEOUT;
  }
  pthread_mutex_unlock(&b->lock);
  return unless_failed(b, r, failed_before);
}

/* The handle (processor.c) lets only the first call through. */
/* Of a shutdown's time, what is kept to let an aborted export return (at
 * most half of it). */
#define ABORT_GRACE_MS 200u

static int bsp_shutdown(void *impl, uint32_t timeout_ms) {
  bsp *b = impl;
  uint64_t now = rpct__now_mono_ns();
  uint64_t deadline = now + timeout_ms * NS_PER_MS;
  uint64_t grace = (timeout_ms / 2 < ABORT_GRACE_MS ? timeout_ms / 2 : ABORT_GRACE_MS) * NS_PER_MS;
  uint64_t failed_before = count_read(&b->failed_exports);
  pthread_mutex_lock(&b->lock);
  b->closing = true;
  b->close_deadline_ns = deadline;
  uint64_t last = atomic_fetch_or_explicit(&b->tail, CLOSED_BIT, memory_order_seq_cst);
  last &= ~CLOSED_BIT;
  if (last > b->flush_target) b->flush_target = last;
  pthread_cond_signal(&b->wake);
  while (!b->finished && wait_until(&b->done, &b->lock, deadline - grace)) continue;
  if (!b->finished) {
    /* Nearly out of time with an export still running (a collector that
     * is down, retries in backoff): shut the exporter down under it, which
     * makes the export return (export.h), so the thread can be joined
     * within this shutdown's time instead of the exporter's own timeout. */
    pthread_mutex_unlock(&b->lock);
    rpct_exporter_shutdown(b->exporter, 0);
    pthread_mutex_lock(&b->lock);
    while (!b->finished && wait_until(&b->done, &b->lock, deadline)) continue;
  }
  bool finished = b->finished;
  int r = b->abandoned ? RPCT_ERR_TIMEOUT : b->shutdown_result;
  pthread_mutex_unlock(&b->lock);
  if (!finished) return RPCT_ERR_TIMEOUT; /* del will join the threads */
  pthread_join(b->thread, NULL);
  b->joined = true;
  stop_watchdog(b);
  return unless_failed(b, r, failed_before);
}

static void bsp_stats(void *impl, rpct_processor_stats *out) {
  bsp *b = impl;
  /* The outcome counters first, then tail: every span they count was
   * claimed before, so done <= accepted and queued never goes below 0. */
  out->exported = count_read(&b->exported);
  out->rejected = count_read(&b->rejected);
  out->failed = count_read(&b->failed);
  out->failed_exports = count_read(&b->failed_exports);
  out->accepted = atomic_load_explicit(&b->tail, memory_order_acquire) & ~CLOSED_BIT;
  out->queued = out->accepted - out->exported - out->rejected - out->failed;
  out->dropped_full = count_read(&b->dropped_full);
  out->dropped_shutdown = count_read(&b->dropped_shutdown);
}

static void bsp_free(bsp *b) {
  const rpct_allocator *a = b->has_alloc ? &b->alloc : NULL;
  rpct__free(a, b->slots);
  rpct__free(a, b->batch);
  rpct__free(a, b->batch_ptr);
  rpct__free(a, b);
}

static void bsp_destroy(void *impl) {
  bsp *b = impl;
  if (b->thread_started && !b->joined) {
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->lock);
    /* Waits for an export in progress: the thread uses b and the exporter. */
    pthread_join(b->thread, NULL);
  }
  stop_watchdog(b);
  pthread_cond_destroy(&b->watch);
  pthread_cond_destroy(&b->done);
  pthread_cond_destroy(&b->wake);
  pthread_mutex_destroy(&b->lock);
  rpct_exporter_del(b->exporter);
  bsp_free(b);
}

/* Return conventions are those of rpct_processor_ops (export.h). */
static const rpct_processor_ops bsp_ops = {
    .on_start = NULL,
    .on_end = bsp_on_end,
    .force_flush = bsp_force_flush,
    .shutdown = bsp_shutdown,
    .stats = bsp_stats,
    .destroy = bsp_destroy,
};

/* ---- construction ---- */

static int init_sync(bsp *b) {
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca) != 0) return RPCT_ERR_NO_MEMORY;
  int r = RPCT_ERR_NO_MEMORY;
  if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0) goto out;
  if (pthread_mutex_init(&b->lock, NULL) != 0) goto out;
  if (pthread_cond_init(&b->wake, &ca) != 0) goto no_wake;
  if (pthread_cond_init(&b->done, &ca) != 0) goto no_done;
  if (pthread_cond_init(&b->watch, &ca) != 0) goto no_watch;
  r = RPCT_OK;
  goto out;
no_watch:
  pthread_cond_destroy(&b->done);
no_done:
  pthread_cond_destroy(&b->wake);
no_wake:
  pthread_mutex_destroy(&b->lock);
out:
  pthread_condattr_destroy(&ca);
  return r;
}

/* The processor's threads block every signal, so the application's
 * handlers keep running on its own threads. */
static int start_thread(pthread_t *t, void *(*fn)(void *), bsp *b, const char *name) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int e = pthread_create(t, NULL, fn, b);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e != 0) return RPCT_ERR_NO_MEMORY;
  pthread_setname_np(*t, name);
  return RPCT_OK;
}

int rpct_batch_processor_new(rpct_processor **out, rpct_exporter *exporter,
                             const rpct_batch_options *opts, const rpct_allocator *alloc) {
  if (!out || !exporter) return RPCT_ERR_INVALID_ARGUMENT;
  rpct_batch_options o = resolve_options(opts);

  bsp *b = rpct__calloc(alloc, 1, sizeof *b);
  if (!b) return RPCT_ERR_NO_MEMORY;
  if (alloc) {
    b->alloc = *alloc;
    b->has_alloc = true;
  }
  b->cap = o.max_queue_size;
  b->mask = (b->cap & (b->cap - 1)) == 0 ? b->cap - 1 : 0;
  b->batch_size = o.max_export_batch_size;
  b->delay_ns = o.schedule_delay_ms * NS_PER_MS;
  b->export_timeout_ms = o.export_timeout_ms;
  b->export_timeout_ns = o.export_timeout_ms * NS_PER_MS;
  /* Zero-filled now, so the RPC path never takes a first-touch page fault. */
  b->slots = rpct__calloc(alloc, b->cap, sizeof *b->slots);
  b->batch = rpct__calloc(alloc, b->batch_size, sizeof *b->batch);
  b->batch_ptr = rpct__calloc(alloc, b->batch_size, sizeof *b->batch_ptr);
  if (!b->slots || !b->batch || !b->batch_ptr) {
    bsp_free(b);
    return RPCT_ERR_NO_MEMORY;
  }
  for (uint64_t i = 0; i < b->cap; i++) atomic_init(&b->slots[i].seq, i);
  for (uint32_t i = 0; i < b->batch_size; i++) b->batch_ptr[i] = &b->batch[i];
  atomic_init(&b->tail, 0);
  atomic_init(&b->wake_at, b->batch_size);
  atomic_init(&b->dropped_full, 0);
  atomic_init(&b->dropped_shutdown, 0);
  atomic_init(&b->exported, 0);
  atomic_init(&b->rejected, 0);
  atomic_init(&b->failed, 0);
  atomic_init(&b->failed_exports, 0);
  if (init_sync(b) != RPCT_OK) {
    bsp_free(b);
    return RPCT_ERR_NO_MEMORY;
  }

  rpct_processor *p;
  int r = rpct_processor_new(&p, &bsp_ops, b, alloc);
  if (r == RPCT_OK) {
    rpct__processor_set_deferred(p, bsp_on_end_deferred);
    b->exporter = exporter; /* before the thread starts: it reads it */
    r = start_thread(&b->watchdog, watchdog_thread, b, "rpctrace-bspwd");
    if (r == RPCT_OK) {
      b->watchdog_started = true;
      r = start_thread(&b->thread, export_thread, b, "rpctrace-bsp");
    }
    if (r == RPCT_OK) {
      b->thread_started = true;
      *out = p;
      return RPCT_OK;
    }
    b->exporter = NULL;    /* the exporter stays the caller's */
    rpct_processor_del(p); /* destroys b: stops the watchdog; no exporter */
    return r;
  }
  pthread_cond_destroy(&b->watch);
  pthread_cond_destroy(&b->done);
  pthread_cond_destroy(&b->wake);
  pthread_mutex_destroy(&b->lock);
  bsp_free(b);
  return r;
}
