/*
 * The dispatcher's lock-free tables (tables.h). Slots are claimed with a
 * compare-and-swap on their key (EMPTY or TOMB -> BUSY), filled, then
 * published by storing the real key with release order; readers match the
 * key with acquire order before reading the rest. Probing is bounded by
 * MAX_PROBE in both directions.
 *
 * The calls and ops tables grow: a busy proxy holds as many calls at once
 * as its memory allows, and a fixed table would stop tracing them at some
 * count (16,384 calls once did, making error spans of calls that went
 * well). Each is a list of levels, level k of 2^(14+k) slots. Level 0 is
 * static; a claim that finds no free slot within MAX_PROBE of its hash in
 * any level adds the next level (calloc, under grow_lock: the only lock,
 * taken once per doubling of the capacity ever reached). A lookup probes
 * the levels in order; a level past its busiest moment is mostly EMPTY, so
 * a miss there stops at its first slot. Levels are never freed: the
 * capacity stays that of the busiest moment, about 16 bytes per call slot
 * and sizeof(op_slot) per op slot.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/support/alloc.h>

#include "interceptors.h"
#include "internal.h"
#include "tables.h"

#define LEVEL0_BITS 14
#define MAX_LEVELS 12 /* 2^14 .. 2^25 slots: 67 million in all */
#define MAX_PROBE 256
#define MAX_REGISTERED 1024

static size_t level_bits(int level) { return LEVEL0_BITS + (size_t)level; }
static size_t level_size(int level) { return (size_t)1 << level_bits(level); }

static uint64_t hash_ptr(uintptr_t p, uintptr_t q) {
  return (uint64_t)p * 0x9e3779b97f4a7c15u ^ (uint64_t)q * 0xc2b2ae3d27d4eb4fu;
}

/* Where a probe for hash `h` starts in `level`: its top bits. */
static size_t level_start(uint64_t h, int level) { return (size_t)(h >> (64 - level_bits(level))); }

/* Taken to add a level to either table. */
static pthread_mutex_t grow_lock = PTHREAD_MUTEX_INITIALIZER;

/* Add level `seen` to a table that had `seen` levels, unless another thread
 * did; returns how many levels it has now (still `seen` when the memory
 * could not be had or MAX_LEVELS is reached). */
static int grow(_Atomic(void *) *levels, atomic_int *n_levels, int seen, size_t slot_size) {
  pthread_mutex_lock(&grow_lock);
  int n = atomic_load_explicit(n_levels, memory_order_acquire);
  if (n == seen && n < MAX_LEVELS) {
    /* calloc: EMPTY is all zero, and the kernel's zero pages cost nothing
     * until a slot is used. */
    void *t = calloc(level_size(n), slot_size);
    if (t) {
      atomic_store_explicit(&levels[n], t, memory_order_release);
      atomic_store_explicit(n_levels, ++n, memory_order_release);
    }
  }
  pthread_mutex_unlock(&grow_lock);
  return n;
}

/* ---- the calls table ---- */

static call_slot calls0[(size_t)1 << LEVEL0_BITS];
static _Atomic(void *) call_levels[MAX_LEVELS] = {calls0};
static atomic_int n_call_levels = 1;

/* Tests only (rpct__tables_set_call_limit): at most this many calls held
 * at once, 0 for no limit; calls_live counts them only while a limit is
 * set, so a production process pays no shared counter per call. */
static atomic_size_t call_limit, calls_live;

void rpct__tables_set_call_limit(size_t limit) {
  atomic_store(&calls_live, 0);
  atomic_store(&call_limit, limit);
}

static call_slot *call_level(int l) {
  return atomic_load_explicit(&call_levels[l], memory_order_acquire);
}

call_slot *rpct__call_claim(const grpc_call *c) {
  size_t limit = atomic_load_explicit(&call_limit, memory_order_relaxed);
  if (RPCT__UNLIKELY(limit) && atomic_fetch_add(&calls_live, 1) >= limit) {
    atomic_fetch_sub(&calls_live, 1);
    return NULL;
  }
  uint64_t h = hash_ptr((uintptr_t)c, 0);
  int n = atomic_load_explicit(&n_call_levels, memory_order_acquire);
  for (int l = 0;; l++) {
    if (l == n && (n = grow(call_levels, &n_call_levels, n, sizeof(call_slot))) == l) break;
    call_slot *t = call_level(l);
    size_t mask = level_size(l) - 1, at = level_start(h, l);
    for (size_t i = 0; i < MAX_PROBE; i++) {
      call_slot *s = &t[(at + i) & mask];
      uintptr_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
      if ((k == KEY_EMPTY || k == KEY_TOMB) &&
          atomic_compare_exchange_strong(&s->key, &k, KEY_BUSY))
        return s;
    }
  }
  if (limit) atomic_fetch_sub(&calls_live, 1);
  return NULL;
}

void rpct__call_publish(call_slot *s, const grpc_call *c, call_state *cs) {
  s->cs = cs;
  atomic_store_explicit(&s->key, (uintptr_t)c, memory_order_release);
}

void rpct__call_unclaim(call_slot *s) {
  /* TOMB, not EMPTY: a key claimed further along the probe sequence while
   * this slot was BUSY must stay reachable. */
  atomic_store_explicit(&s->key, KEY_TOMB, memory_order_release);
  if (atomic_load_explicit(&call_limit, memory_order_relaxed)) atomic_fetch_sub(&calls_live, 1);
}

call_slot *rpct__call_find(const grpc_call *c) {
  if (!c) return NULL;
  uint64_t h = hash_ptr((uintptr_t)c, 0);
  int n = atomic_load_explicit(&n_call_levels, memory_order_acquire);
  for (int l = 0; l < n; l++) {
    call_slot *t = call_level(l);
    size_t mask = level_size(l) - 1, at = level_start(h, l);
    for (size_t i = 0; i < MAX_PROBE; i++) {
      call_slot *s = &t[(at + i) & mask];
      uintptr_t k = atomic_load_explicit(&s->key, memory_order_acquire);
      if (k == (uintptr_t)c) return s;
      if (k == KEY_EMPTY) break;
    }
  }
  return NULL;
}

call_state *rpct__call_lookup(const grpc_call *c) {
  call_slot *s = rpct__call_find(c);
  return s ? s->cs : NULL;
}

void rpct__call_remove(call_slot *s, const grpc_call *c) {
  uintptr_t k = (uintptr_t)c;
  if (atomic_compare_exchange_strong(&s->key, &k, KEY_TOMB) &&
      atomic_load_explicit(&call_limit, memory_order_relaxed))
    atomic_fetch_sub(&calls_live, 1);
}

size_t rpct__tables_call_capacity(void) {
  size_t n = 0, levels = (size_t)atomic_load(&n_call_levels);
  for (size_t l = 0; l < levels; l++) n += level_size((int)l);
  return n;
}

/* ---- the ops table ---- */

static op_slot ops0[(size_t)1 << LEVEL0_BITS];
static _Atomic(void *) op_levels[MAX_LEVELS] = {ops0};
static atomic_int n_op_levels = 1;

static op_slot *op_level(int l) {
  return atomic_load_explicit(&op_levels[l], memory_order_acquire);
}

/* Claim slot `s` if it is free. */
static bool slot_claim(op_slot *s) {
  int st = atomic_load_explicit(&s->state, memory_order_relaxed);
  return (st == SLOT_EMPTY || st == SLOT_TOMB) &&
         atomic_compare_exchange_strong(&s->state, &st, SLOT_BUSY);
}

/* A free slot probing from hash `h`, the table grown when none is left. */
static op_slot *op_claim(uint64_t h) {
  int n = atomic_load_explicit(&n_op_levels, memory_order_acquire);
  for (int l = 0;; l++) {
    if (l == n && (n = grow(op_levels, &n_op_levels, n, sizeof(op_slot))) == l) return NULL;
    op_slot *t = op_level(l);
    size_t mask = level_size(l) - 1, at = level_start(h, l);
    for (size_t i = 0; i < MAX_PROBE; i++) {
      op_slot *s = &t[(at + i) & mask];
      if (slot_claim(s)) return s;
    }
  }
}

/* A slot for a callback queue's op: found again through its functor, never
 * by tag, so any free slot will do (it stays BUSY, invisible to lookups). */
op_slot *rpct__op_reserve(void) {
  static atomic_uint next;
  uint64_t k = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
  return op_claim(hash_ptr((uintptr_t)k, 0));
}

/* Publish `op` under (op->cq, tag) for next/pluck queues, probing from the
 * pair's hash so rpct__op_take finds it within MAX_PROBE slots of a level. */
op_slot *rpct__op_publish(void *tag, const pending_op *op) {
  op_slot *s = op_claim(hash_ptr((uintptr_t)tag, (uintptr_t)op->cq));
  if (!s) return NULL;
  s->tag = tag;
  s->op = *op;
  atomic_store_explicit(&s->state, SLOT_FULL, memory_order_release);
  return s;
}

/* Take the op published under (cq, tag), if any, into *out. */
bool rpct__op_take(grpc_completion_queue *cq, void *tag, pending_op *out) {
  uint64_t h = hash_ptr((uintptr_t)tag, (uintptr_t)cq);
  int n = atomic_load_explicit(&n_op_levels, memory_order_acquire);
  for (int l = 0; l < n; l++) {
    op_slot *t = op_level(l);
    size_t mask = level_size(l) - 1, at = level_start(h, l);
    for (size_t i = 0; i < MAX_PROBE; i++) {
      op_slot *s = &t[(at + i) & mask];
      int st = atomic_load_explicit(&s->state, memory_order_acquire);
      if (st == SLOT_EMPTY) break;
      if (st != SLOT_FULL || s->tag != tag || s->op.cq != cq) continue;
      *out = s->op;
      if (atomic_compare_exchange_strong(&s->state, &st, SLOT_TOMB)) return true;
    }
  }
  return false;
}

void rpct__op_publish_callback(op_slot *s) {
  atomic_store_explicit(&s->state, SLOT_CALLBACK, memory_order_release);
}

pending_op rpct__op_read_callback(op_slot *s) {
  (void)atomic_load_explicit(&s->state, memory_order_acquire);
  return s->op;
}

void rpct__op_release(op_slot *s) {
  atomic_store_explicit(&s->state, SLOT_TOMB, memory_order_release);
}

/* ---- callback completion queues ---- */

#define MAX_CALLBACK_CQS 256
static _Atomic(grpc_completion_queue *) callback_cqs[MAX_CALLBACK_CQS];

/* How many callback queues the set holds: most programs have none, and
 * then rpct__is_callback_cq answers without scanning (it runs for every
 * call created and every request-call). */
static atomic_int n_callback_cqs;

void rpct__callback_cq_set(grpc_completion_queue *old, grpc_completion_queue *now) {
  for (int i = 0; i < MAX_CALLBACK_CQS; i++) {
    grpc_completion_queue *expected = old;
    if (atomic_compare_exchange_strong(&callback_cqs[i], &expected, now)) {
      atomic_fetch_add(&n_callback_cqs, (now != NULL) - (old != NULL));
      return;
    }
  }
}

bool rpct__is_callback_cq(const grpc_completion_queue *cq) {
  if (!cq || atomic_load_explicit(&n_callback_cqs, memory_order_acquire) == 0) return false;
  for (int i = 0; i < MAX_CALLBACK_CQS; i++)
    if (atomic_load_explicit(&callback_cqs[i], memory_order_relaxed) == cq) return true;
  return false;
}

/* ---- registered methods and channel targets ---- */

registered rpct__reg_server[MAX_REGISTERED], rpct__reg_channel[MAX_REGISTERED];

void rpct__registered_add(registered *table, const void *owner, void *handle, const char *method,
                          const char *host) {
  if (!handle || !method) return;
  for (int i = 0; i < MAX_REGISTERED; i++) {
    void *expected = NULL;
    if (atomic_load(&table[i].handle) != NULL) continue;
    /* Claim with a sentinel, fill, then publish the handle. */
    if (!atomic_compare_exchange_strong(&table[i].handle, &expected, (void *)&table[i])) continue;
    table[i].owner = owner;
    snprintf(table[i].method, sizeof table[i].method, "%s", method);
    snprintf(table[i].host, sizeof table[i].host, "%s", host ? host : "");
    atomic_store(&table[i].handle, handle);
    return;
  }
}

const registered *rpct__registered_find(const registered *table, const void *handle) {
  for (int i = 0; i < MAX_REGISTERED; i++) {
    void *h = atomic_load_explicit((_Atomic(void *) *)&table[i].handle, memory_order_acquire);
    if (h == handle) return &table[i];
    if (!h) return NULL;
  }
  return NULL;
}

bool rpct__registered_any_of(const registered *table, const void *owner) {
  for (int i = 0; i < MAX_REGISTERED; i++) {
    void *h = atomic_load_explicit((_Atomic(void *) *)&table[i].handle, memory_order_acquire);
    if (!h) return false;
    /* A claimed slot holds its own address until it is published. */
    if (h != (void *)&table[i] && table[i].owner == owner) return true;
  }
  return false;
}

#define MAX_CHANNELS 1024
typedef struct channel_target {
  _Atomic(grpc_channel *) channel;
  char target[256];
} channel_target;
static channel_target channels[MAX_CHANNELS];

/* The channel's target, read once per channel (grpc_channel_get_target
 * allocates) and kept until grpc_channel_destroy. */
const char *rpct__channel_target_of(grpc_channel *ch) {
  for (int i = 0; i < MAX_CHANNELS; i++) {
    grpc_channel *c = atomic_load_explicit(&channels[i].channel, memory_order_acquire);
    if (c == ch) return channels[i].target;
  }
  char *t = grpc_channel_get_target(ch);
  if (!t) return NULL;
  const char *result = NULL;
  for (int i = 0; i < MAX_CHANNELS && !result; i++) {
    grpc_channel *expected = NULL;
    if (atomic_load(&channels[i].channel) != NULL) continue;
    if (!atomic_compare_exchange_strong(&channels[i].channel, &expected,
                                        (grpc_channel *)&channels[i]))
      continue;
    snprintf(channels[i].target, sizeof channels[i].target, "%s", t);
    atomic_store(&channels[i].channel, ch);
    result = channels[i].target;
  }
  gpr_free(t);
  return result;
}

void rpct__channel_forget(grpc_channel *ch) {
  for (int i = 0; i < MAX_CHANNELS; i++) {
    grpc_channel *expected = ch;
    if (atomic_compare_exchange_strong(&channels[i].channel, &expected, NULL)) break;
  }
}
