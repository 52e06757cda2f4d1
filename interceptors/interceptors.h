/*
 * Internal declarations of interceptors/: the dispatcher that interposes
 * gRPC core's call API, the metadata writer it hands to filters, and the
 * tracing filters. Names rpct__*. Not installed.
 */
#ifndef RPCTRACE_INTERCEPTORS_H
#define RPCTRACE_INTERCEPTORS_H

#include <grpc/grpc.h>

#include "rpctrace/filter.h"

/* ---- the interposed gRPC core functions ---- */

/* Every interposed function, once: R(return type, name, parameters, arguments)
 * for functions returning a value, V(name, parameters, arguments) for void
 * ones. The dispatcher's table of real functions, its hooks, and both front
 * ends (wrap.c: __wrap_/__real_; preload.c: dlsym(RTLD_NEXT)) expand it. */
#define RPCT__GRPC_FUNCTIONS(R, V)                                                               \
  R(grpc_call *, grpc_channel_create_call,                                                       \
    (grpc_channel * channel, grpc_call * parent_call, uint32_t propagation_mask,                 \
     grpc_completion_queue * cq, grpc_slice method, const grpc_slice *host, gpr_timespec deadline, \
     void *reserved),                                                                            \
    (channel, parent_call, propagation_mask, cq, method, host, deadline, reserved))              \
  R(grpc_call *, grpc_channel_create_registered_call,                                            \
    (grpc_channel * channel, grpc_call * parent_call, uint32_t propagation_mask,                 \
     grpc_completion_queue * cq, void *registered_call_handle, gpr_timespec deadline,            \
     void *reserved),                                                                            \
    (channel, parent_call, propagation_mask, cq, registered_call_handle, deadline, reserved))    \
  R(void *, grpc_channel_register_call,                                                          \
    (grpc_channel * channel, const char *method, const char *host, void *reserved),              \
    (channel, method, host, reserved))                                                           \
  V(grpc_channel_destroy, (grpc_channel * channel), (channel))                                   \
  R(grpc_call_error, grpc_server_request_call,                                                   \
    (grpc_server * server, grpc_call * *call, grpc_call_details * details,                       \
     grpc_metadata_array * request_metadata, grpc_completion_queue * cq_bound_to_call,           \
     grpc_completion_queue * cq_for_notification, void *tag_new),                                \
    (server, call, details, request_metadata, cq_bound_to_call, cq_for_notification, tag_new))   \
  R(grpc_call_error, grpc_server_request_registered_call,                                        \
    (grpc_server * server, void *registered_method, grpc_call **call, gpr_timespec *deadline,    \
     grpc_metadata_array *request_metadata, grpc_byte_buffer **optional_payload,                 \
     grpc_completion_queue *cq_bound_to_call, grpc_completion_queue *cq_for_notification,        \
     void *tag_new),                                                                             \
    (server, registered_method, call, deadline, request_metadata, optional_payload,              \
     cq_bound_to_call, cq_for_notification, tag_new))                                            \
  R(void *, grpc_server_register_method,                                                         \
    (grpc_server * server, const char *method, const char *host,                                 \
     grpc_server_register_method_payload_handling payload_handling, uint32_t flags),             \
    (server, method, host, payload_handling, flags))                                             \
  R(grpc_call_error, grpc_call_start_batch,                                                      \
    (grpc_call * call, const grpc_op *ops, size_t nops, void *tag, void *reserved),              \
    (call, ops, nops, tag, reserved))                                                            \
  R(grpc_event, grpc_completion_queue_next,                                                      \
    (grpc_completion_queue * cq, gpr_timespec deadline, void *reserved), (cq, deadline, reserved)) \
  R(grpc_event, grpc_completion_queue_pluck,                                                     \
    (grpc_completion_queue * cq, void *tag, gpr_timespec deadline, void *reserved),              \
    (cq, tag, deadline, reserved))                                                               \
  R(grpc_completion_queue *, grpc_completion_queue_create,                                       \
    (const grpc_completion_queue_factory *factory,                                               \
     const grpc_completion_queue_attributes *attributes, void *reserved),                        \
    (factory, attributes, reserved))                                                             \
  R(grpc_completion_queue *, grpc_completion_queue_create_for_callback,                          \
    (grpc_completion_queue_functor * shutdown_callback, void *reserved),                         \
    (shutdown_callback, reserved))                                                               \
  V(grpc_completion_queue_destroy, (grpc_completion_queue * cq), (cq))                           \
  R(grpc_call_error, grpc_call_cancel, (grpc_call * call, void *reserved), (call, reserved))     \
  R(grpc_call_error, grpc_call_cancel_with_status,                                               \
    (grpc_call * call, grpc_status_code status, const char *description, void *reserved),        \
    (call, status, description, reserved))                                                       \
  V(grpc_call_ref, (grpc_call * call), (call))                                                   \
  V(grpc_call_unref, (grpc_call * call), (call))

#define RPCT__API_FIELD_R(ret, name, params, args) ret(*name) params;
#define RPCT__API_FIELD_V(name, params, args) void(*name) params;
typedef struct rpct__grpc_api {
  RPCT__GRPC_FUNCTIONS(RPCT__API_FIELD_R, RPCT__API_FIELD_V)
} rpct__grpc_api;

/* The hooks: what an interposed function does instead. */
#define RPCT__HOOK_DECL_R(ret, name, params, args) ret rpct__hook_##name params;
#define RPCT__HOOK_DECL_V(name, params, args) void rpct__hook_##name params;
RPCT__GRPC_FUNCTIONS(RPCT__HOOK_DECL_R, RPCT__HOOK_DECL_V)

/* A front end hands the dispatcher its table of real functions before it
 * calls the first hook (idempotent; `api` must stay valid). */
void rpct__dispatch_set_api(const rpct__grpc_api *api);

/* Defined by each front end (wrap.c, preload.c), in the same module as the
 * dispatcher it feeds, and referenced weakly by dispatch.c: the address is
 * NULL in a program linked with the library alone, whose gRPC calls never
 * reach a hook. A link-time fact rather than a flag set at run time, so
 * rpct_init can tell before any gRPC call, whatever order constructors run
 * in, and the preload library still does nothing in a process until its
 * first interposed call. The string names the front end. */
extern const char rpct__front_end[];

/* ---- md_writer.c ---- */

/* Outgoing initial metadata: the application's entries first, then what
 * filters add. Strings added are copied into `buf`; the grpc_metadata
 * entries point into it (gRPC core copies metadata inside
 * grpc_call_start_batch, so caller stack memory is enough). With `call`
 * set, a writer out of room (entries or text) continues in the call's
 * arena instead of refusing: `out` may then move, `buf` changes for what
 * comes next and what was written stays where it is. */
struct rpct_md_writer {
  const grpc_metadata *app; /* the application's entries, borrowed */
  size_t n_app;
  grpc_metadata *out;       /* app entries copied, then added ones */
  size_t n_out, cap_out;
  char *buf;
  size_t used, cap_buf;
  grpc_call *call; /* NULL: fixed room (rpct__md_writer_init leaves it NULL) */
};

void rpct__md_writer_init(rpct_md_writer *w, const grpc_metadata *app, size_t n_app,
                          grpc_metadata *out, size_t cap_out, char *buf, size_t cap_buf);
/* Entries rpct_md_writer_add refused for want of room (RPCT_ERR_NO_SPACE),
 * in every writer since the program started. */
uint64_t rpct__md_writer_dropped(void);

/* ---- tracing filters (client_filter.c, server_filter.c, tracing_config.c) ---- */

extern const rpct_filter rpct__client_tracing_filter;
extern const rpct_filter rpct__server_tracing_filter;

/* Read the tracing filters' configuration from the environment (called by
 * rpct_init before any call; tests call it after setenv). */
void rpct__tracing_configure(void);

#endif /* RPCTRACE_INTERCEPTORS_H */
