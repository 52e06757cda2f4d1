/*
 * The dispatcher's lock-free tables (tables.h). Slots are claimed with a
 * compare-and-swap on their key (EMPTY or TOMB -> BUSY), filled, then
 * published by storing the real key with release order; readers match the
 * key with acquire order before reading the rest. Probing is bounded by
 * MAX_PROBE in both directions.
 */
#include <stdio.h>
#include <string.h>

#include <grpc/support/alloc.h>

#include "interceptors.h"
#include "internal.h"
#include "tables.h"

#define CALL_TABLE_SIZE (1u << 14)
#define OP_TABLE_SIZE (1u << 14)
#define MAX_PROBE 256
#define MAX_REGISTERED 1024

/* ---- the calls table ---- */

static call_slot calls[CALL_TABLE_SIZE];

/* What could not be traced for want of a slot; read by rpct__tables_untraced. */
static atomic_uint_least64_t calls_untraced_full, ops_untraced_full;

static size_t hash_ptr(uintptr_t p, uintptr_t q) {
  uint64_t h = (uint64_t)p * 0x9e3779b97f4a7c15u ^ (uint64_t)q * 0xc2b2ae3d27d4eb4fu;
  return (size_t)(h >> 40);
}

bool rpct__call_insert(grpc_call *c, call_state *cs) {
  size_t h = hash_ptr((uintptr_t)c, 0);
  for (size_t i = 0; i < MAX_PROBE; i++) {
    call_slot *s = &calls[(h + i) & (CALL_TABLE_SIZE - 1)];
    uintptr_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
    if ((k == KEY_EMPTY || k == KEY_TOMB) &&
        atomic_compare_exchange_strong(&s->key, &k, KEY_BUSY)) {
      s->cs = cs;
      atomic_store_explicit(&s->key, (uintptr_t)c, memory_order_release);
      return true;
    }
  }
  atomic_fetch_add_explicit(&calls_untraced_full, 1, memory_order_relaxed);
  return false;
}

call_slot *rpct__call_find(const grpc_call *c) {
  if (!c) return NULL;
  size_t h = hash_ptr((uintptr_t)c, 0);
  for (size_t i = 0; i < MAX_PROBE; i++) {
    call_slot *s = &calls[(h + i) & (CALL_TABLE_SIZE - 1)];
    uintptr_t k = atomic_load_explicit(&s->key, memory_order_acquire);
    if (k == (uintptr_t)c) return s;
    if (k == KEY_EMPTY) return NULL;
  }
  return NULL;
}

call_state *rpct__call_lookup(const grpc_call *c) {
  call_slot *s = rpct__call_find(c);
  return s ? s->cs : NULL;
}

/* ---- the ops table ---- */

static op_slot ops_table[OP_TABLE_SIZE];

/* Claim slot `s` if it is free. */
static bool slot_claim(op_slot *s) {
  int st = atomic_load_explicit(&s->state, memory_order_relaxed);
  return (st == SLOT_EMPTY || st == SLOT_TOMB) &&
         atomic_compare_exchange_strong(&s->state, &st, SLOT_BUSY);
}

/* A slot for a callback queue's op: found again through its functor, never
 * by tag, so any free slot will do (it stays BUSY, invisible to lookups). */
op_slot *rpct__op_reserve(void) {
  static atomic_uint next;
  size_t h = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
  for (size_t i = 0; i < MAX_PROBE; i++) {
    op_slot *s = &ops_table[(h * 7919 + i) & (OP_TABLE_SIZE - 1)];
    if (slot_claim(s)) return s;
  }
  atomic_fetch_add_explicit(&ops_untraced_full, 1, memory_order_relaxed);
  return NULL;
}

/* Publish `op` under (op->cq, tag) for next/pluck queues, probing from the
 * pair's hash so rpct__op_take finds it within MAX_PROBE slots. */
op_slot *rpct__op_publish(void *tag, const pending_op *op) {
  size_t h = hash_ptr((uintptr_t)tag, (uintptr_t)op->cq);
  for (size_t i = 0; i < MAX_PROBE; i++) {
    op_slot *s = &ops_table[(h + i) & (OP_TABLE_SIZE - 1)];
    if (!slot_claim(s)) continue;
    s->tag = tag;
    s->op = *op;
    atomic_store_explicit(&s->state, SLOT_FULL, memory_order_release);
    return s;
  }
  atomic_fetch_add_explicit(&ops_untraced_full, 1, memory_order_relaxed);
  return NULL;
}

/* Take the op published under (cq, tag), if any, into *out. */
bool rpct__op_take(grpc_completion_queue *cq, void *tag, pending_op *out) {
  size_t h = hash_ptr((uintptr_t)tag, (uintptr_t)cq);
  for (size_t i = 0; i < MAX_PROBE; i++) {
    op_slot *s = &ops_table[(h + i) & (OP_TABLE_SIZE - 1)];
    int st = atomic_load_explicit(&s->state, memory_order_acquire);
    if (st == SLOT_EMPTY) return false;
    if (st != SLOT_FULL || s->tag != tag || s->op.cq != cq) continue;
    *out = s->op;
    if (atomic_compare_exchange_strong(&s->state, &st, SLOT_TOMB)) return true;
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

void rpct__call_remove(call_slot *s, const grpc_call *c) {
  uintptr_t k = (uintptr_t)c;
  atomic_compare_exchange_strong(&s->key, &k, KEY_TOMB);
}

uint64_t rpct__tables_untraced(void) {
  return atomic_load(&calls_untraced_full) + atomic_load(&ops_untraced_full);
}
