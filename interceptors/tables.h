/*
 * The dispatcher's lock-free lookup tables (tables.c): calls by grpc_call
 * pointer and pending ops by (completion queue, tag), which grow with the
 * number of calls in flight; callback completion queues, registered
 * methods and channel targets, of fixed size in static memory. A table
 * that cannot take an entry (no memory left to grow, a fixed one full)
 * says so by returning NULL, and the caller leaves the call or op
 * untraced and counts it; nothing here blocks an RPC. Internal to
 * interceptors/.
 */
#ifndef RPCTRACE_INTERCEPTORS_TABLES_H
#define RPCTRACE_INTERCEPTORS_TABLES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <grpc/grpc.h>

#define MAX_METHOD 256

typedef struct call_state call_state;

/* Slot keys besides pointers. */
#define KEY_EMPTY ((uintptr_t)0)
#define KEY_BUSY ((uintptr_t)1) /* being filled */
#define KEY_TOMB ((uintptr_t)2) /* removed */

typedef struct call_slot {
  _Atomic uintptr_t key; /* grpc_call* */
  call_state *cs;
} call_slot;

/* A slot for `c`, claimed but not yet visible to lookups; NULL when none
 * can be had (no memory to grow, or the test limit). Then either publish
 * it with the call's state, or give it back. */
call_slot *rpct__call_claim(const grpc_call *c);
void rpct__call_publish(call_slot *s, const grpc_call *c, call_state *cs);
void rpct__call_unclaim(call_slot *s);
call_slot *rpct__call_find(const grpc_call *c);
call_state *rpct__call_lookup(const grpc_call *c);
/* Unlink `c` (found at `s`): its application released it. */
void rpct__call_remove(call_slot *s, const grpc_call *c);
/* Call slots allocated so far (grows, never shrinks). */
size_t rpct__tables_call_capacity(void);
/* Tests: hold at most `limit` calls at once (0: no limit, the default),
 * so that a test can fill the table without filling the memory. Set it
 * before any call is traced. */
void rpct__tables_set_call_limit(size_t limit);

enum { OP_BATCH = 1, OP_REQUEST = 2 };

/* Batch op bits. */
#define B_SEND_MSG 0x01u
#define B_RECV_INITIAL_MD 0x02u
#define B_RECV_MSG 0x04u
#define B_RECV_STATUS 0x08u
#define B_SEND_STATUS 0x10u
#define B_RECV_CLOSE 0x20u

typedef struct pending_op {
  int kind;
  grpc_completion_queue *cq;
  call_state *cs;
  /* OP_BATCH */
  unsigned bits;
  uint8_t order[3]; /* B_SEND_MSG, B_RECV_INITIAL_MD, B_RECV_MSG as the ops array had them */
  uint8_t n_order;
  size_t sent_bytes;
  grpc_metadata_array *recv_initial_md;
  grpc_byte_buffer **recv_message;
  grpc_status_code *recv_status;
  grpc_slice *recv_details;
  grpc_metadata_array *recv_trailing;
  int *recv_cancelled;
  grpc_status_code sent_status;
  uint64_t sent_at_unix_ns; /* when SEND_STATUS_FROM_SERVER was started */
  char sent_details[128];
  /* OP_REQUEST */
  grpc_call **new_call;
  grpc_call_details *details;
  grpc_metadata_array *request_md;
  grpc_completion_queue *cq_bound;
  const char *reg_method;   /* registered: the method path */
  unsigned method_registration; /* RPCT_METHOD_*, for rpct_call_info */
  gpr_timespec *deadline;   /* registered: where core writes the deadline */
  /* Callback queues: the application's functor, run after ours. */
  grpc_completion_queue_functor *app_functor;
} pending_op;

/* Op slot states: any tag value is valid (gRPC examples use small
 * integers), so the state is kept apart from it. */
enum { SLOT_EMPTY = 0, SLOT_BUSY = 1, SLOT_FULL = 2, SLOT_TOMB = 3, SLOT_CALLBACK = 4 };

typedef struct op_slot {
  _Atomic int state;
  void *tag;                             /* the application's, when FULL */
  grpc_completion_queue_functor wrapper; /* callback queues: core's tag */
  pending_op op;
} op_slot;

/* A slot for a callback queue's op (found again through its functor); NULL
 * when no memory is left to grow the table. */
op_slot *rpct__op_reserve(void);
/* Publish a reserved slot once filled (release): the functor that gRPC core
 * runs on another thread reads it with rpct__op_read_callback (acquire). */
void rpct__op_publish_callback(op_slot *s);
pending_op rpct__op_read_callback(op_slot *s);
/* Publish `op` under (op->cq, tag) for next/pluck queues; NULL as above. */
op_slot *rpct__op_publish(void *tag, const pending_op *op);
/* Take the op published under (cq, tag), if any, into *out. */
bool rpct__op_take(grpc_completion_queue *cq, void *tag, pending_op *out);
void rpct__op_release(op_slot *s);

void rpct__callback_cq_set(grpc_completion_queue *old, grpc_completion_queue *now);
bool rpct__is_callback_cq(const grpc_completion_queue *cq);

typedef struct registered {
  _Atomic(void *) handle;
  const void *owner; /* the server or channel; written before handle is published */
  char method[MAX_METHOD];
  char host[MAX_METHOD];
} registered;
extern registered rpct__reg_server[], rpct__reg_channel[];
void rpct__registered_add(registered *table, const void *owner, void *handle, const char *method,
                          const char *host);
const registered *rpct__registered_find(const registered *table, const void *handle);
/* Whether `owner` registered any method in `table`. */
bool rpct__registered_any_of(const registered *table, const void *owner);

/* The channel's target (read once per channel), and forgetting it. */
const char *rpct__channel_target_of(grpc_channel *ch);
void rpct__channel_forget(grpc_channel *ch);

#endif /* RPCTRACE_INTERCEPTORS_TABLES_H */
