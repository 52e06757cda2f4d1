/*
 * examples/common — log lines that can be joined to traces.
 *
 * Each line is "<program>: <message> trace_id=<32 hex> span_id=<16 hex>
 * trace_flags=<2 hex>" on stderr, written with one fprintf so lines of
 * different threads never interleave. With the ids in the line, a log
 * search and a trace view point at each other.
 *
 * Thread safety: ex_log_set_name() once, before other threads log;
 * ex_log() from any thread.
 */
#ifndef EXAMPLES_COMMON_LOG_H
#define EXAMPLES_COMMON_LOG_H

#include "common/tracing.h"

/* The "<program>" prefix of every line (borrowed: a string literal, or one
 * that outlives the program's logging). Default "example". */
void ex_log_set_name(const char *name);

/* Log a printf-formatted message with the ids of `ctx` (borrowed; NULL or
 * an invalid context logs all-zero ids, e.g. for an untraced call). */
void ex_log(const rpct_span_context *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* EXAMPLES_COMMON_LOG_H */
