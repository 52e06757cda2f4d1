/*
 * B3 (single and multi header) and grpc-trace-bin: tables of specification
 * cases, round trips through every format, argument checks, and proof that
 * none of it (nor baggage) allocates.
 *
 * The allocation check counts every heap allocation of the process as
 * test_traceparent_noalloc.c does: in a plain build by replacing malloc and
 * friends (forwarding to glibc's __libc_* functions); under a sanitizer,
 * whose allocator cannot be replaced, through its malloc hook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include "alloc_count.h"

#include "internal.h"
#include "test_util.h"

#define TID "80f198ee56343ba864fe8b2a57d3eff7"
#define SID "e457b5a2e4d86bd1"
#define PID "05e3ac9a4f6e3b90"
#define TID64 "a3ce929d0e0e4736"
#define TID64_PADDED "0000000000000000" TID64
#define ZERO16 "0000000000000000"
#define ZERO32 ZERO16 ZERO16

/* The same ids as bytes, for grpc-trace-bin. */
#define TID_BYTES \
  0x80, 0xf1, 0x98, 0xee, 0x56, 0x34, 0x3b, 0xa8, 0x64, 0xfe, 0x8b, 0x2a, 0x57, 0xd3, 0xef, 0xf7
#define SID_BYTES 0xe4, 0x57, 0xb5, 0xa2, 0xe4, 0xd8, 0x6b, 0xd1
#define ZERO_BYTES8 0, 0, 0, 0, 0, 0, 0, 0

enum {
  OK = RPCT_OK,
  BAD = RPCT_ERR_PARSE,
  NONE = RPCT_ERR_NOT_FOUND,
  DEFER = RPCT_B3_SAMPLING_DEFERRED,
  DENY = RPCT_B3_SAMPLING_DENY,
  ACCEPT = RPCT_B3_SAMPLING_ACCEPT,
  DEBUG = RPCT_B3_SAMPLING_DEBUG,
};

/* ---- helpers ---- */

/* A context full of stale bytes, to show that a parse overwrites it. */
static void fill_stale(rpct_span_context *ctx) {
  memset(ctx, 0xAB, sizeof *ctx);
  ctx->tracestate.len = 3;
  ctx->tracestate.count = 1;
}

static void expect_invalid(const char *name, const rpct_span_context *ctx) {
  if (rpct_span_context_is_valid(ctx) || ctx->flags != 0 || ctx->remote ||
      ctx->tracestate.len != 0 || ctx->tracestate.count != 0)
    fail_msg("%s: a failed parse must leave the invalid context", name);
}

static void expect_ctx(const char *name, const rpct_span_context *ctx, const char *trace,
                       const char *span, uint8_t flags) {
  char t[33], s[17];
  tu_hex(ctx->trace_id.bytes, 16, t);
  tu_hex(ctx->span_id.bytes, 8, s);
  if (strcmp(t, trace) != 0 || strcmp(s, span) != 0 || ctx->flags != flags)
    fail_msg("%s: got %s-%s flags %02x, want %s-%s flags %02x", name, t, s, ctx->flags, trace, span,
             flags);
  if (!ctx->remote || ctx->tracestate.len != 0 || ctx->tracestate.count != 0)
    fail_msg("%s: want remote = true and an empty tracestate", name);
}

static rpct_span_context make_ctx(const char *trace, const char *span, uint8_t flags) {
  rpct_span_context ctx;
  memset(&ctx, 0, sizeof ctx);
  assert_int_equal(rpct_trace_id_parse(trace, strlen(trace), &ctx.trace_id), RPCT_OK);
  assert_int_equal(rpct_span_id_parse(span, strlen(span), &ctx.span_id), RPCT_OK);
  ctx.flags = flags;
  return ctx;
}

/* ======================================================================
 * B3 single header
 * ====================================================================== */

typedef struct b3_single_case {
  const char *name;
  const char *in;
  int rc;
  const char *trace; /* expected when rc == OK */
  const char *span;
  uint8_t flags;
  int sampling; /* expected *sampling, whatever rc */
} b3_single_case;

static const b3_single_case b3_single_cases[] = {
    {"128-bit ids, accept", TID "-" SID "-1", OK, TID, SID, 1, ACCEPT},
    {"128-bit ids, deny", TID "-" SID "-0", OK, TID, SID, 0, DENY},
    {"debug is read as sampled", TID "-" SID "-d", OK, TID, SID, 1, DEBUG},
    {"no sampling state is deferred and unsampled", TID "-" SID, OK, TID, SID, 0, DEFER},
    {"parent id is checked and ignored", TID "-" SID "-1-" PID, OK, TID, SID, 1, ACCEPT},
    {"parent id with deny", TID "-" SID "-0-" PID, OK, TID, SID, 0, DENY},
    {"parent id with debug", TID "-" SID "-d-" PID, OK, TID, SID, 1, DEBUG},
    {"64-bit trace id is left-padded", TID64 "-" SID "-1", OK, TID64_PADDED, SID, 1, ACCEPT},
    {"64-bit trace id without sampling", TID64 "-" SID, OK, TID64_PADDED, SID, 0, DEFER},
    {"64-bit trace id with parent", TID64 "-" SID "-0-" PID, OK, TID64_PADDED, SID, 0, DENY},
    {"white space around is ignored", " \t" TID "-" SID "-1 \t", OK, TID, SID, 1, ACCEPT},
    {"lone deny carries no context", "0", NONE, 0, 0, 0, DENY},
    {"lone accept carries no context", "1", NONE, 0, 0, 0, ACCEPT},
    {"lone debug carries no context", "d", NONE, 0, 0, 0, DEBUG},
    {"lone deny with white space", " 0\t", NONE, 0, 0, 0, DENY},
    {"lone unknown state", "x", BAD, 0, 0, 0, DEFER},
    {"lone uppercase debug", "D", BAD, 0, 0, 0, DEFER},
    {"lone dash", "-", BAD, 0, 0, 0, DEFER},
    {"uppercase trace id", "80F198EE56343BA864FE8B2A57D3EFF7-" SID "-1", BAD, 0, 0, 0, DEFER},
    {"uppercase 64-bit trace id", "A3CE929D0E0E4736-" SID "-1", BAD, 0, 0, 0, DEFER},
    {"uppercase span id", TID "-E457B5A2E4D86BD1-1", BAD, 0, 0, 0, DEFER},
    {"uppercase parent id", TID "-" SID "-1-05E3AC9A4F6E3B90", BAD, 0, 0, 0, DEFER},
    {"uppercase debug", TID "-" SID "-D", BAD, 0, 0, 0, DEFER},
    {"trace id of 31 digits", "80f198ee56343ba864fe8b2a57d3eff-" SID "-1", BAD, 0, 0, 0, DEFER},
    {"trace id of 33 digits", TID "0-" SID "-1", BAD, 0, 0, 0, DEFER},
    {"trace id of 24 digits", "80f198ee56343ba864fe8b2a-" SID "-1", BAD, 0, 0, 0, DEFER},
    {"trace id of 15 digits", "a3ce929d0e0e473-" SID "-1", BAD, 0, 0, 0, DEFER},
    {"span id of 15 digits", TID "-e457b5a2e4d86bd-1", BAD, 0, 0, 0, DEFER},
    {"span id of 17 digits", TID "-e457b5a2e4d86bd10-1", BAD, 0, 0, 0, DEFER},
    {"parent id of 15 digits", TID "-" SID "-1-05e3ac9a4f6e3b9", BAD, 0, 0, 0, DEFER},
    {"parent id of 17 digits", TID "-" SID "-1-" PID "0", BAD, 0, 0, 0, DEFER},
    {"all-zero trace id", ZERO32 "-" SID "-1", BAD, 0, 0, 0, DEFER},
    {"all-zero 64-bit trace id", ZERO16 "-" SID "-1", BAD, 0, 0, 0, DEFER},
    {"all-zero span id", TID "-" ZERO16 "-1", BAD, 0, 0, 0, DEFER},
    {"all-zero parent id", TID "-" SID "-1-" ZERO16, BAD, 0, 0, 0, DEFER},
    {"sampling state 2", TID "-" SID "-2", BAD, 0, 0, 0, DEFER},
    {"sampling state true is multi-header only", TID "-" SID "-true", BAD, 0, 0, 0, DEFER},
    {"parent id in place of the sampling state", TID "-" SID "-" PID, BAD, 0, 0, 0, DEFER},
    {"underscore separators", TID "_" SID "_1", BAD, 0, 0, 0, DEFER},
    {"double dash", TID "--" SID "-1", BAD, 0, 0, 0, DEFER},
    {"dash after the span id and nothing", TID "-" SID "-", BAD, 0, 0, 0, DEFER},
    {"dash after the sampling state and nothing", TID "-" SID "-1-", BAD, 0, 0, 0, DEFER},
    {"trailing junk after the sampling state", TID "-" SID "-1x", BAD, 0, 0, 0, DEFER},
    {"trailing junk after the span id", TID "-" SID "x", BAD, 0, 0, 0, DEFER},
    {"a fifth field", TID "-" SID "-1-" PID "-x", BAD, 0, 0, 0, DEFER},
    {"inner space", TID "-" SID " -1", BAD, 0, 0, 0, DEFER},
    {"trace id alone", TID, BAD, 0, 0, 0, DEFER},
    {"empty", "", BAD, 0, 0, 0, DEFER},
    {"only white space", " \t ", BAD, 0, 0, 0, DEFER},
    {"newline is not white space", TID "-" SID "-1\n", BAD, 0, 0, 0, DEFER},
};

static void test_b3_single_parse_follows_spec_cases(void **state) {
  (void)state;
  assert_true(RPCT__ARRAY_LEN(b3_single_cases) >= 15);
  for (size_t i = 0; i < RPCT__ARRAY_LEN(b3_single_cases); i++) {
    const b3_single_case *c = &b3_single_cases[i];
    rpct_span_context ctx;
    fill_stale(&ctx);
    rpct_b3_sampling st = (rpct_b3_sampling)99;
    int rc = rpct_b3_parse_single(c->in, strlen(c->in), &ctx, &st);
    tu_expect_rc(c->name, rc, c->rc);
    if ((int)st != c->sampling) fail_msg("%s: sampling %d, want %d", c->name, st, c->sampling);
    if (c->rc == OK)
      expect_ctx(c->name, &ctx, c->trace, c->span, c->flags);
    else
      expect_invalid(c->name, &ctx);

    /* Without the sampling out parameter: the same answer. */
    fill_stale(&ctx);
    tu_expect_rc(c->name, rpct_b3_parse_single(c->in, strlen(c->in), &ctx, NULL), c->rc);
    if (c->rc == OK) expect_ctx(c->name, &ctx, c->trace, c->span, c->flags);
  }
}

static void test_b3_single_parse_reads_only_len_bytes(void **state) {
  (void)state;
  static const char s[] = TID "-" SID "-1-" PID;
  rpct_span_context ctx;
  rpct_b3_sampling st;
  /* Cut before the parent: the sampling state ends the value. */
  assert_int_equal(rpct_b3_parse_single(s, 32 + 1 + 16 + 2, &ctx, &st), RPCT_OK);
  expect_ctx("cut after sampling", &ctx, TID, SID, 1);
  /* Cut inside the span id. */
  assert_int_equal(rpct_b3_parse_single(s, 32 + 1 + 15, &ctx, &st), RPCT_ERR_PARSE);
  /* A lone state followed by bytes beyond len. */
  assert_int_equal(rpct_b3_parse_single("0abc", 1, &ctx, &st), RPCT_ERR_NOT_FOUND);
  assert_int_equal(st, RPCT_B3_SAMPLING_DENY);
}

/* ======================================================================
 * B3 multi header
 * ====================================================================== */

typedef struct b3_multi_case {
  const char *name;
  const char *trace_id, *span_id, *sampled, *flags; /* NULL: header absent */
  int rc;
  const char *trace;
  const char *span;
  uint8_t ctx_flags;
  int sampling;
} b3_multi_case;

static const b3_multi_case b3_multi_cases[] = {
    {"ids and sampled 1", TID, SID, "1", NULL, OK, TID, SID, 1, ACCEPT},
    {"ids and sampled 0", TID, SID, "0", NULL, OK, TID, SID, 0, DENY},
    {"sampled true", TID, SID, "true", NULL, OK, TID, SID, 1, ACCEPT},
    {"sampled false", TID, SID, "false", NULL, OK, TID, SID, 0, DENY},
    {"no sampled header is deferred", TID, SID, NULL, NULL, OK, TID, SID, 0, DEFER},
    {"flags 1 is debug and sampled", TID, SID, NULL, "1", OK, TID, SID, 1, DEBUG},
    {"debug wins over sampled 0", TID, SID, "0", "1", OK, TID, SID, 1, DEBUG},
    {"flags 0 leaves sampled alone", TID, SID, "1", "0", OK, TID, SID, 1, ACCEPT},
    {"flags 0 alone is deferred", TID, SID, NULL, "0", OK, TID, SID, 0, DEFER},
    {"64-bit trace id is left-padded", TID64, SID, "1", NULL, OK, TID64_PADDED, SID, 1, ACCEPT},
    {"white space around values", " " TID "\t", "\t" SID " ", " 1 ", NULL, OK, TID, SID, 1, ACCEPT},
    {"sampled 0 alone carries no context", NULL, NULL, "0", NULL, NONE, 0, 0, 0, DENY},
    {"sampled 1 alone carries no context", NULL, NULL, "1", NULL, NONE, 0, 0, 0, ACCEPT},
    {"flags 1 alone carries no context", NULL, NULL, NULL, "1", NONE, 0, 0, 0, DEBUG},
    {"no headers at all", NULL, NULL, NULL, NULL, NONE, 0, 0, 0, DEFER},
    {"trace id without span id", TID, NULL, "1", NULL, BAD, 0, 0, 0, DEFER},
    {"span id without trace id", NULL, SID, "1", NULL, BAD, 0, 0, 0, DEFER},
    {"uppercase trace id", "80F198EE56343BA864FE8B2A57D3EFF7", SID, "1", NULL, BAD, 0, 0, 0, DEFER},
    {"uppercase span id", TID, "E457B5A2E4D86BD1", "1", NULL, BAD, 0, 0, 0, DEFER},
    {"trace id of 31 digits", "80f198ee56343ba864fe8b2a57d3eff", SID, "1", NULL, BAD, 0, 0, 0,
     DEFER},
    {"span id of 32 digits", TID, TID, "1", NULL, BAD, 0, 0, 0, DEFER},
    {"all-zero trace id", ZERO32, SID, "1", NULL, BAD, 0, 0, 0, DEFER},
    {"all-zero span id", TID, ZERO16, "1", NULL, BAD, 0, 0, 0, DEFER},
    {"empty trace id", "", SID, "1", NULL, BAD, 0, 0, 0, DEFER},
    {"sampled 2", TID, SID, "2", NULL, BAD, 0, 0, 0, DEFER},
    {"sampled True is case-sensitive", TID, SID, "True", NULL, BAD, 0, 0, 0, DEFER},
    {"sampled d is single-header only", TID, SID, "d", NULL, BAD, 0, 0, 0, DEFER},
    {"empty sampled", TID, SID, "", NULL, BAD, 0, 0, 0, DEFER},
    {"flags 2", TID, SID, "1", "2", BAD, 0, 0, 0, DEFER},
    {"bad sampled without ids", NULL, NULL, "yes", NULL, BAD, 0, 0, 0, DEFER},
};

static size_t len_or_0(const char *s) { return s ? strlen(s) : 0; }

static void test_b3_multi_parse_follows_spec_cases(void **state) {
  (void)state;
  assert_true(RPCT__ARRAY_LEN(b3_multi_cases) >= 10);
  for (size_t i = 0; i < RPCT__ARRAY_LEN(b3_multi_cases); i++) {
    const b3_multi_case *c = &b3_multi_cases[i];
    rpct_span_context ctx;
    fill_stale(&ctx);
    rpct_b3_sampling st = (rpct_b3_sampling)99;
    int rc = rpct_b3_parse_multi(c->trace_id, len_or_0(c->trace_id), c->span_id,
                                 len_or_0(c->span_id), c->sampled, len_or_0(c->sampled), c->flags,
                                 len_or_0(c->flags), &ctx, &st);
    tu_expect_rc(c->name, rc, c->rc);
    if ((int)st != c->sampling) fail_msg("%s: sampling %d, want %d", c->name, st, c->sampling);
    if (c->rc == OK)
      expect_ctx(c->name, &ctx, c->trace, c->span, c->ctx_flags);
    else
      expect_invalid(c->name, &ctx);
  }
}

static void test_b3_multi_parse_ignores_lengths_of_absent_headers(void **state) {
  (void)state;
  rpct_span_context ctx;
  assert_int_equal(rpct_b3_parse_multi(TID, 32, SID, 16, NULL, 99, NULL, 12345, &ctx, NULL),
                   RPCT_OK);
  expect_ctx("absent with lengths", &ctx, TID, SID, 0);
}

/* ======================================================================
 * grpc-trace-bin
 * ====================================================================== */

typedef struct bin_case {
  const char *name;
  uint8_t in[40];
  size_t len;
  int rc;
  uint8_t flags;
} bin_case;

static const bin_case bin_cases[] = {
    {"29 bytes, sampled", {0, 0, TID_BYTES, 1, SID_BYTES, 2, 1}, 29, OK, 1},
    {"29 bytes, not sampled", {0, 0, TID_BYTES, 1, SID_BYTES, 2, 0}, 29, OK, 0},
    {"options bits other than sampled ignored",
     {0, 0, TID_BYTES, 1, SID_BYTES, 2, 0xfe},
     29,
     OK,
     0},
    {"all option bits: sampled only", {0, 0, TID_BYTES, 1, SID_BYTES, 2, 0xff}, 29, OK, 1},
    {"options field absent", {0, 0, TID_BYTES, 1, SID_BYTES}, 27, OK, 0},
    {"unknown field after the span id stops parsing",
     {0, 0, TID_BYTES, 1, SID_BYTES, 3, 1},
     29,
     OK,
     0},
    {"unknown field after options is ignored",
     {0, 0, TID_BYTES, 1, SID_BYTES, 2, 1, 3, 0xaa, 0xbb},
     32,
     OK,
     1},
    {"repeated trace id field after the span id stops parsing",
     {0, 0, TID_BYTES, 1, SID_BYTES, 0, 1},
     29,
     OK,
     0},
    {"options field cut short", {0, 0, TID_BYTES, 1, SID_BYTES, 2}, 28, BAD, 0},
    {"version 1", {1, 0, TID_BYTES, 1, SID_BYTES, 2, 1}, 29, BAD, 0},
    {"version 0x80", {0x80, 0, TID_BYTES, 1, SID_BYTES, 2, 1}, 29, BAD, 0},
    {"empty", {0}, 0, BAD, 0},
    {"version only", {0}, 1, BAD, 0},
    {"trace id field only", {0, 0, TID_BYTES}, 18, BAD, 0},
    {"span id cut short", {0, 0, TID_BYTES, 1, SID_BYTES}, 26, BAD, 0},
    {"all-zero trace id", {0, 0, ZERO_BYTES8, ZERO_BYTES8, 1, SID_BYTES, 2, 1}, 29, BAD, 0},
    {"all-zero span id", {0, 0, TID_BYTES, 1, ZERO_BYTES8, 2, 1}, 29, BAD, 0},
    {"span id field before trace id field", {0, 1, SID_BYTES, 0, TID_BYTES, 2, 1}, 29, BAD, 0},
    {"options field before span id field", {0, 0, TID_BYTES, 2, 1, 1, SID_BYTES}, 29, BAD, 0},
    {"unknown first field", {0, 3, TID_BYTES, 1, SID_BYTES, 2, 1}, 29, BAD, 0},
    {"wrong span id field id", {0, 0, TID_BYTES, 9, SID_BYTES, 2, 1}, 29, BAD, 0},
};

static void test_grpc_trace_bin_parse_follows_opencensus_cases(void **state) {
  (void)state;
  assert_true(RPCT__ARRAY_LEN(bin_cases) >= 10);
  for (size_t i = 0; i < RPCT__ARRAY_LEN(bin_cases); i++) {
    const bin_case *c = &bin_cases[i];
    rpct_span_context ctx;
    fill_stale(&ctx);
    tu_expect_rc(c->name, rpct_grpc_trace_bin_parse(c->in, c->len, &ctx), c->rc);
    if (c->rc == OK)
      expect_ctx(c->name, &ctx, TID, SID, c->flags);
    else
      expect_invalid(c->name, &ctx);
  }
}

static void test_grpc_trace_bin_format_writes_29_bytes(void **state) {
  (void)state;
  static const uint8_t want_sampled[RPCT_GRPC_TRACE_BIN_LEN] = {0,         0, TID_BYTES, 1,
                                                                SID_BYTES, 2, 1};
  uint8_t out[RPCT_GRPC_TRACE_BIN_LEN + 1];
  memset(out, 0xEE, sizeof out);
  rpct_span_context ctx = make_ctx(TID, SID, RPCT_TRACE_FLAG_SAMPLED | RPCT_TRACE_FLAG_RANDOM);
  assert_int_equal(rpct_grpc_trace_bin_format(&ctx, out), RPCT_GRPC_TRACE_BIN_LEN);
  assert_memory_equal(out, want_sampled, RPCT_GRPC_TRACE_BIN_LEN);
  assert_int_equal(out[RPCT_GRPC_TRACE_BIN_LEN], 0xEE); /* nothing past 29 bytes */

  ctx.flags = RPCT_TRACE_FLAG_RANDOM; /* only the sampled bit is written */
  assert_int_equal(rpct_grpc_trace_bin_format(&ctx, out), RPCT_GRPC_TRACE_BIN_LEN);
  assert_int_equal(out[28], 0);
}

/* ======================================================================
 * formatting B3
 * ====================================================================== */

static void test_b3_format_single_writes_ids_and_sampled_bit(void **state) {
  (void)state;
  char buf[RPCT_B3_SINGLE_LEN + 1];
  rpct_span_context ctx = make_ctx(TID, SID, RPCT_TRACE_FLAG_SAMPLED);
  assert_int_equal(rpct_b3_format_single(&ctx, buf, sizeof buf), RPCT_B3_SINGLE_LEN);
  assert_string_equal(buf, TID "-" SID "-1");
  ctx.flags = RPCT_TRACE_FLAG_RANDOM;
  assert_int_equal(rpct_b3_format_single(&ctx, buf, sizeof buf), RPCT_B3_SINGLE_LEN);
  assert_string_equal(buf, TID "-" SID "-0");
  /* A 64-bit id comes back as 32 digits. */
  ctx = make_ctx(TID64_PADDED, SID, 0);
  assert_int_equal(rpct_b3_format_single(&ctx, buf, sizeof buf), RPCT_B3_SINGLE_LEN);
  assert_string_equal(buf, TID64_PADDED "-" SID "-0");
}

static void test_b3_format_multi_writes_three_values(void **state) {
  (void)state;
  rpct_b3_headers h;
  rpct_span_context ctx = make_ctx(TID, SID, RPCT_TRACE_FLAG_SAMPLED);
  assert_int_equal(rpct_b3_format_multi(&ctx, &h), RPCT_OK);
  assert_string_equal(h.trace_id, TID);
  assert_string_equal(h.span_id, SID);
  assert_string_equal(h.sampled, "1");
  ctx.flags = 0;
  assert_int_equal(rpct_b3_format_multi(&ctx, &h), RPCT_OK);
  assert_string_equal(h.sampled, "0");
}

static void test_formatters_refuse_invalid_context_and_small_buffer(void **state) {
  (void)state;
  char buf[RPCT_B3_SINGLE_LEN + 1];
  uint8_t bin[RPCT_GRPC_TRACE_BIN_LEN];
  rpct_b3_headers h;
  rpct_span_context zero;
  memset(&zero, 0, sizeof zero);
  rpct_span_context no_span = make_ctx(TID, SID, 1);
  memset(&no_span.span_id, 0, sizeof no_span.span_id);
  rpct_span_context ok = make_ctx(TID, SID, 1);

  assert_int_equal(rpct_b3_format_single(&zero, buf, sizeof buf), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_b3_format_single(&no_span, buf, sizeof buf), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_b3_format_single(NULL, buf, sizeof buf), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_b3_format_single(&ok, buf, RPCT_B3_SINGLE_LEN), RPCT_ERR_NO_SPACE);
  assert_int_equal(rpct_b3_format_single(&ok, NULL, sizeof buf), RPCT_ERR_NO_SPACE);

  memset(&h, 'x', sizeof h);
  assert_int_equal(rpct_b3_format_multi(&zero, &h), RPCT_ERR_INVALID_ARGUMENT);
  assert_string_equal(h.trace_id, "");
  assert_string_equal(h.span_id, "");
  assert_string_equal(h.sampled, "");
  assert_int_equal(rpct_b3_format_multi(NULL, &h), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_b3_format_multi(&ok, NULL), RPCT_ERR_INVALID_ARGUMENT);

  memset(bin, 0xEE, sizeof bin);
  assert_int_equal(rpct_grpc_trace_bin_format(&zero, bin), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_grpc_trace_bin_format(&no_span, bin), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_grpc_trace_bin_format(NULL, bin), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_grpc_trace_bin_format(&ok, NULL), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(bin[0], 0xEE); /* untouched */
}

static void test_parsers_reject_null_arguments(void **state) {
  (void)state;
  rpct_span_context ctx;
  rpct_b3_sampling st;
  static const uint8_t bin[RPCT_GRPC_TRACE_BIN_LEN] = {0, 0, TID_BYTES, 1, SID_BYTES, 2, 1};

  fill_stale(&ctx);
  st = RPCT_B3_SAMPLING_DEBUG;
  assert_int_equal(rpct_b3_parse_single(NULL, 5, &ctx, &st), RPCT_ERR_INVALID_ARGUMENT);
  expect_invalid("b3 single NULL s", &ctx);
  assert_int_equal(st, RPCT_B3_SAMPLING_DEFERRED);
  assert_int_equal(rpct_b3_parse_single("1", 1, NULL, &st), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(st, RPCT_B3_SAMPLING_DEFERRED);

  st = RPCT_B3_SAMPLING_DEBUG;
  assert_int_equal(rpct_b3_parse_multi(TID, 32, SID, 16, "1", 1, NULL, 0, NULL, &st),
                   RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(st, RPCT_B3_SAMPLING_DEFERRED);

  fill_stale(&ctx);
  assert_int_equal(rpct_grpc_trace_bin_parse(NULL, 29, &ctx), RPCT_ERR_INVALID_ARGUMENT);
  expect_invalid("bin NULL b", &ctx);
  assert_int_equal(rpct_grpc_trace_bin_parse(bin, sizeof bin, NULL), RPCT_ERR_INVALID_ARGUMENT);
}

/* ======================================================================
 * round trips
 * ====================================================================== */

static void expect_same_ids(const char *name, const rpct_span_context *a,
                            const rpct_span_context *b) {
  if (memcmp(&a->trace_id, &b->trace_id, sizeof a->trace_id) != 0 ||
      memcmp(&a->span_id, &b->span_id, sizeof a->span_id) != 0 ||
      (a->flags & RPCT_TRACE_FLAG_SAMPLED) != (b->flags & RPCT_TRACE_FLAG_SAMPLED))
    fail_msg("%s: ids or sampled bit changed", name);
}

static void test_b3_single_round_trips(void **state) {
  (void)state;
  static const char *const canonical[] = {TID "-" SID "-1", TID "-" SID "-0",
                                          TID64_PADDED "-" SID "-1"};
  for (size_t i = 0; i < RPCT__ARRAY_LEN(canonical); i++) {
    rpct_span_context ctx;
    char buf[RPCT_B3_SINGLE_LEN + 1];
    assert_int_equal(rpct_b3_parse_single(canonical[i], strlen(canonical[i]), &ctx, NULL), RPCT_OK);
    assert_int_equal(rpct_b3_format_single(&ctx, buf, sizeof buf), RPCT_B3_SINGLE_LEN);
    assert_string_equal(buf, canonical[i]);
  }
  /* Non-canonical inputs come back in the canonical form. */
  static const struct {
    const char *in, *out;
  } normalised[] = {
      {TID64 "-" SID "-1", TID64_PADDED "-" SID "-1"},
      {TID "-" SID "-d", TID "-" SID "-1"},
      {TID "-" SID, TID "-" SID "-0"},
      {TID "-" SID "-1-" PID, TID "-" SID "-1"},
  };
  for (size_t i = 0; i < RPCT__ARRAY_LEN(normalised); i++) {
    rpct_span_context ctx;
    char buf[RPCT_B3_SINGLE_LEN + 1];
    const char *in = normalised[i].in;
    assert_int_equal(rpct_b3_parse_single(in, strlen(in), &ctx, NULL), RPCT_OK);
    assert_int_equal(rpct_b3_format_single(&ctx, buf, sizeof buf), RPCT_B3_SINGLE_LEN);
    assert_string_equal(buf, normalised[i].out);
  }
}

static void test_b3_multi_round_trips(void **state) {
  (void)state;
  for (uint8_t flags = 0; flags <= 1; flags++) {
    rpct_span_context in = make_ctx(TID, SID, flags), out;
    rpct_b3_headers h;
    rpct_b3_sampling st;
    assert_int_equal(rpct_b3_format_multi(&in, &h), RPCT_OK);
    assert_int_equal(
        rpct_b3_parse_multi(h.trace_id, strlen(h.trace_id), h.span_id, strlen(h.span_id), h.sampled,
                            strlen(h.sampled), NULL, 0, &out, &st),
        RPCT_OK);
    expect_ctx("b3 multi round trip", &out, TID, SID, flags);
    assert_int_equal(st, flags ? RPCT_B3_SAMPLING_ACCEPT : RPCT_B3_SAMPLING_DENY);
  }
}

static void test_grpc_trace_bin_round_trips(void **state) {
  (void)state;
  for (size_t i = 0; i < RPCT__ARRAY_LEN(bin_cases); i++) {
    const bin_case *c = &bin_cases[i];
    if (c->rc != OK) continue;
    rpct_span_context ctx, again;
    uint8_t out[RPCT_GRPC_TRACE_BIN_LEN];
    assert_int_equal(rpct_grpc_trace_bin_parse(c->in, c->len, &ctx), RPCT_OK);
    assert_int_equal(rpct_grpc_trace_bin_format(&ctx, out), RPCT_GRPC_TRACE_BIN_LEN);
    /* The canonical 29 bytes: version, three fields, options 0 or 1. */
    assert_memory_equal(out, c->in, 27);
    assert_int_equal(out[27], 2);
    assert_int_equal(out[28], c->flags);
    assert_int_equal(rpct_grpc_trace_bin_parse(out, sizeof out, &again), RPCT_OK);
    expect_same_ids(c->name, &ctx, &again);
  }
}

/* A context travels traceparent -> B3 single -> B3 multi -> grpc-trace-bin
 * -> traceparent unchanged. */
static void test_context_survives_every_format_in_turn(void **state) {
  (void)state;
  static const char tp[] = "00-" TID "-" SID "-01";
  rpct_span_context a, b, c, d;
  char buf[RPCT_TRACEPARENT_LEN + 1];
  rpct_b3_headers h;
  uint8_t bin[RPCT_GRPC_TRACE_BIN_LEN];

  assert_int_equal(rpct_traceparent_parse(tp, sizeof tp - 1, &a), RPCT_OK);
  assert_int_equal(rpct_b3_format_single(&a, buf, sizeof buf), RPCT_B3_SINGLE_LEN);
  assert_int_equal(rpct_b3_parse_single(buf, strlen(buf), &b, NULL), RPCT_OK);
  assert_int_equal(rpct_b3_format_multi(&b, &h), RPCT_OK);
  assert_int_equal(
      rpct_b3_parse_multi(h.trace_id, 32, h.span_id, 16, h.sampled, 1, NULL, 0, &c, NULL), RPCT_OK);
  assert_int_equal(rpct_grpc_trace_bin_format(&c, bin), RPCT_GRPC_TRACE_BIN_LEN);
  assert_int_equal(rpct_grpc_trace_bin_parse(bin, sizeof bin, &d), RPCT_OK);
  assert_int_equal(rpct_traceparent_format(&d, buf, sizeof buf), RPCT_TRACEPARENT_LEN);
  assert_string_equal(buf, tp);
}

/* ======================================================================
 * no allocation
 * ====================================================================== */


static void test_allocation_counter_sees_malloc(void **state) {
  (void)state;
  if (!alloc_count_available()) {
    print_message("skipped: under valgrind, whose malloc replaces the counting one\n");
    skip();
  }
  alloc_count_begin();
  void *p = alloc_count_malloc(32);
  size_t n = alloc_count_end();
  free(p);
  assert_int_equal(n, 1);
}

static void test_propagators_parse_and_format_allocate_nothing(void **state) {
  (void)state;
  static const char *const singles[] = {(TID "-" SID "-1"), (TID64 "-" SID "-d-" PID), "0",
                                        ("80F198EE56343BA864FE8B2A57D3EFF7-" SID), "junk"};
  static const char bag[] = "userId=alice, serverNode = DF%2028 ;ttl=30;flag,bad key=1,,x=";
  static rpct_baggage baggage; /* static: 8 KB is not for the test's stack */
  rpct_span_context ctx;
  rpct_b3_sampling st;
  rpct_b3_headers h;
  uint8_t bin[RPCT_GRPC_TRACE_BIN_LEN];
  char buf[RPCT_B3_SINGLE_LEN + 1], bag_out[128];
  const char *v;
  size_t vl;
  int ok = 0;
  if (!alloc_count_available()) {
    print_message("skipped: under valgrind, whose malloc replaces the counting one\n");
    skip();
  }
  alloc_count_begin();
  for (int round = 0; round < 1000; round++) {
    for (size_t i = 0; i < RPCT__ARRAY_LEN(singles); i++) {
      if (rpct_b3_parse_single(singles[i], strlen(singles[i]), &ctx, &st) != RPCT_OK) continue;
      ok += rpct_b3_format_single(&ctx, buf, sizeof buf) == RPCT_B3_SINGLE_LEN;
      ok += rpct_b3_format_multi(&ctx, &h) == RPCT_OK;
      ok += rpct_b3_parse_multi(h.trace_id, 32, h.span_id, 16, h.sampled, 1, "1", 1, &ctx, &st) ==
            RPCT_OK;
      ok += rpct_grpc_trace_bin_format(&ctx, bin) == RPCT_GRPC_TRACE_BIN_LEN;
      ok += rpct_grpc_trace_bin_parse(bin, sizeof bin, &ctx) == RPCT_OK;
    }
    ok += rpct_baggage_parse(bag, sizeof bag - 1, &baggage) == RPCT_ERR_PARSE;
    ok += rpct_baggage_get(&baggage, "serverNode", &v, &vl) == RPCT_OK;
    ok += rpct_baggage_set(&baggage, "userId", "bob smith") == RPCT_OK;
    ok += rpct_baggage_format(&baggage, bag_out, sizeof bag_out) > 0;
  }
  assert_int_equal(alloc_count_end(), 0);
  assert_int_equal(ok, 1000 * (2 * 5 + 4));
}

int main(void) {
  alloc_count_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_b3_single_parse_follows_spec_cases),
      cmocka_unit_test(test_b3_single_parse_reads_only_len_bytes),
      cmocka_unit_test(test_b3_multi_parse_follows_spec_cases),
      cmocka_unit_test(test_b3_multi_parse_ignores_lengths_of_absent_headers),
      cmocka_unit_test(test_grpc_trace_bin_parse_follows_opencensus_cases),
      cmocka_unit_test(test_grpc_trace_bin_format_writes_29_bytes),
      cmocka_unit_test(test_b3_format_single_writes_ids_and_sampled_bit),
      cmocka_unit_test(test_b3_format_multi_writes_three_values),
      cmocka_unit_test(test_formatters_refuse_invalid_context_and_small_buffer),
      cmocka_unit_test(test_parsers_reject_null_arguments),
      cmocka_unit_test(test_b3_single_round_trips),
      cmocka_unit_test(test_b3_multi_round_trips),
      cmocka_unit_test(test_grpc_trace_bin_round_trips),
      cmocka_unit_test(test_context_survives_every_format_in_turn),
      cmocka_unit_test(test_allocation_counter_sees_malloc),
      cmocka_unit_test(test_propagators_parse_and_format_allocate_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
