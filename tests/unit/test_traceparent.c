/* W3C traceparent parsing and formatting: a table of specification cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rpctrace/rpctrace.h"

#define TID "0af7651916cd43dd8448eb211c80319c"
#define SID "b7ad6b7169203331"

typedef struct tp_case {
  const char *what;
  const char *input;
  int rc;              /* expected return */
  const char *trace;   /* expected trace id (hex) when valid */
  const char *span;    /* expected parent id (hex) when valid */
  uint8_t flags;       /* expected known flags when valid */
} tp_case;

static const tp_case cases[] = {
    {"valid sampled", "00-" TID "-" SID "-01", RPCT_OK, TID, SID, 0x01},
    {"valid not sampled", "00-" TID "-" SID "-00", RPCT_OK, TID, SID, 0x00},
    {"valid random flag kept", "00-" TID "-" SID "-03", RPCT_OK, TID, SID, 0x03},
    {"unknown flags dropped", "00-" TID "-" SID "-ff", RPCT_OK, TID, SID, 0x03},
    {"unknown flag bit 0x08 dropped", "00-" TID "-" SID "-09", RPCT_OK, TID, SID, 0x01},
    {"leading space", " 00-" TID "-" SID "-01", RPCT_OK, TID, SID, 0x01},
    {"leading tab", "\t00-" TID "-" SID "-01", RPCT_OK, TID, SID, 0x01},
    {"trailing space", "00-" TID "-" SID "-01 ", RPCT_OK, TID, SID, 0x01},
    {"both sides mixed OWS", "\t 00-" TID "-" SID "-01 \t", RPCT_OK, TID, SID, 0x01},
    {"version cc", "cc-" TID "-" SID "-01", RPCT_OK, TID, SID, 0x01},
    {"version cc with extra field", "cc-" TID "-" SID "-01-what-the-future-will-be-like", RPCT_OK,
     TID, SID, 0x01},
    {"version cc extra without dash", "cc-" TID "-" SID "-01.what-the-future-will-be-like",
     RPCT_ERR_PARSE, 0, 0, 0},
    {"version cc extra dash only", "cc-" TID "-" SID "-01-", RPCT_OK, TID, SID, 0x01},
    {"version 01 too short", "01-" TID "-" SID "-0", RPCT_ERR_PARSE, 0, 0, 0},
    {"version 00 trailing dot", "00-" TID "-" SID "-01.", RPCT_ERR_PARSE, 0, 0, 0},
    {"version 00 trailing fields", "00-" TID "-" SID "-01-what-the-future-will-be-like",
     RPCT_ERR_PARSE, 0, 0, 0},
    {"version ff", "ff-" TID "-" SID "-01", RPCT_ERR_PARSE, 0, 0, 0},
    {"version uppercase", "0A-" TID "-" SID "-01", RPCT_ERR_PARSE, 0, 0, 0},
    {"version illegal char first", ".0-" TID "-" SID "-01", RPCT_ERR_PARSE, 0, 0, 0},
    {"version illegal char second", "0.-" TID "-" SID "-01", RPCT_ERR_PARSE, 0, 0, 0},
    {"version too long", "000-" TID "-" SID "-01", RPCT_ERR_PARSE, 0, 0, 0},
    {"version too short", "0-" TID "-" SID "-01", RPCT_ERR_PARSE, 0, 0, 0},
    {"trace id uppercase", "00-0AF7651916CD43DD8448EB211C80319C-" SID "-01", RPCT_ERR_PARSE, 0, 0,
     0},
    {"span id uppercase", "00-" TID "-B7AD6B7169203331-01", RPCT_ERR_PARSE, 0, 0, 0},
    {"flags uppercase", "00-" TID "-" SID "-0A", RPCT_ERR_PARSE, 0, 0, 0},
    {"trace id all zero", "00-00000000000000000000000000000000-" SID "-01", RPCT_ERR_PARSE, 0, 0,
     0},
    {"span id all zero", "00-" TID "-0000000000000000-01", RPCT_ERR_PARSE, 0, 0, 0},
    {"trace id illegal first char", "00-.af7651916cd43dd8448eb211c80319c-" SID "-01",
     RPCT_ERR_PARSE, 0, 0, 0},
    {"trace id illegal last char", "00-0af7651916cd43dd8448eb211c80319.-" SID "-01",
     RPCT_ERR_PARSE, 0, 0, 0},
    {"trace id too long", "00-0af7651916cd43dd8448eb211c80319c1-" SID "-01", RPCT_ERR_PARSE, 0, 0,
     0},
    {"trace id too short", "00-0af7651916cd43dd8448eb211c8031-" SID "-01", RPCT_ERR_PARSE, 0, 0,
     0},
    {"span id illegal char", "00-" TID "-.7ad6b7169203331-01", RPCT_ERR_PARSE, 0, 0, 0},
    {"span id too long", "00-" TID "-b7ad6b71692033311-01", RPCT_ERR_PARSE, 0, 0, 0},
    {"span id too short", "00-" TID "-b7ad6b716920333-01", RPCT_ERR_PARSE, 0, 0, 0},
    {"flags illegal char", "00-" TID "-" SID "-.0", RPCT_ERR_PARSE, 0, 0, 0},
    {"flags illegal second char", "00-" TID "-" SID "-0.", RPCT_ERR_PARSE, 0, 0, 0},
    {"flags too long", "00-" TID "-" SID "-001", RPCT_ERR_PARSE, 0, 0, 0},
    {"flags too short", "00-" TID "-" SID "-1", RPCT_ERR_PARSE, 0, 0, 0},
    {"underscore separators", "00_" TID "_" SID "_01", RPCT_ERR_PARSE, 0, 0, 0},
    {"missing separator before flags", "00-" TID "-" SID "001", RPCT_ERR_PARSE, 0, 0, 0},
    {"empty", "", RPCT_ERR_PARSE, 0, 0, 0},
    {"only white space", " \t ", RPCT_ERR_PARSE, 0, 0, 0},
    {"inner space", "00-" TID " -" SID "-01", RPCT_ERR_PARSE, 0, 0, 0},
    {"newline is not OWS", "00-" TID "-" SID "-01\n", RPCT_ERR_PARSE, 0, 0, 0},
};

static void hex(const uint8_t *b, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) out[2 * i] = d[b[i] >> 4], out[2 * i + 1] = d[b[i] & 15];
  out[2 * n] = '\0';
}

static void test_traceparent_parse_follows_w3c_cases(void **state) {
  (void)state;
  assert_true(sizeof cases / sizeof cases[0] >= 30);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const tp_case *c = &cases[i];
    rpct_span_context ctx;
    memset(&ctx, 0xAB, sizeof ctx);
    int rc = rpct_traceparent_parse(c->input, strlen(c->input), &ctx);
    if (rc != c->rc) fail_msg("case '%s' (%s): rc %d, want %d", c->what, c->input, rc, c->rc);
    if (c->rc != RPCT_OK) {
      /* A failed parse leaves the invalid context, never a partial one. */
      assert_false(rpct_span_context_is_valid(&ctx));
      assert_int_equal(ctx.flags, 0);
      assert_int_equal(ctx.tracestate.len, 0);
      continue;
    }
    char t[33], sp[17];
    hex(ctx.trace_id.bytes, 16, t);
    hex(ctx.span_id.bytes, 8, sp);
    assert_string_equal(t, c->trace);
    assert_string_equal(sp, c->span);
    if (ctx.flags != c->flags) fail_msg("case '%s': flags %02x, want %02x", c->what, ctx.flags, c->flags);
    assert_true(ctx.remote);
    assert_int_equal(ctx.tracestate.len, 0);
  }
}

static void test_traceparent_parse_uses_length_not_nul(void **state) {
  (void)state;
  const char *s = "00-" TID "-" SID "-01garbage";
  rpct_span_context ctx;
  assert_int_equal(rpct_traceparent_parse(s, RPCT_TRACEPARENT_LEN, &ctx), RPCT_OK);
  assert_int_equal(rpct_traceparent_parse(s, RPCT_TRACEPARENT_LEN - 1, &ctx), RPCT_ERR_PARSE);
  assert_int_equal(rpct_traceparent_parse(NULL, 0, &ctx), RPCT_ERR_PARSE);
  assert_int_equal(rpct_traceparent_parse(s, 55, NULL), RPCT_ERR_INVALID_ARGUMENT);
}

static void test_traceparent_format_round_trips(void **state) {
  (void)state;
  const char *in = "00-" TID "-" SID "-01";
  rpct_span_context ctx;
  assert_int_equal(rpct_traceparent_parse(in, strlen(in), &ctx), RPCT_OK);
  char buf[RPCT_TRACEPARENT_LEN + 1];
  assert_int_equal(rpct_traceparent_format(&ctx, buf, sizeof buf), RPCT_TRACEPARENT_LEN);
  assert_string_equal(buf, in);
}

static void test_traceparent_format_writes_version_00_from_higher_version(void **state) {
  (void)state;
  const char *in = "cc-" TID "-" SID "-03-extra";
  rpct_span_context ctx;
  assert_int_equal(rpct_traceparent_parse(in, strlen(in), &ctx), RPCT_OK);
  char buf[64];
  assert_int_equal(rpct_traceparent_format(&ctx, buf, sizeof buf), 55);
  assert_string_equal(buf, "00-" TID "-" SID "-03");
}

static void test_traceparent_format_drops_unknown_flags(void **state) {
  (void)state;
  rpct_span_context ctx = {0};
  assert_int_equal(rpct_trace_id_parse(TID, 32, &ctx.trace_id), RPCT_OK);
  assert_int_equal(rpct_span_id_parse(SID, 16, &ctx.span_id), RPCT_OK);
  ctx.flags = 0xF5;
  char buf[56];
  assert_int_equal(rpct_traceparent_format(&ctx, buf, sizeof buf), 55);
  assert_string_equal(buf, "00-" TID "-" SID "-01");
}

static void test_traceparent_format_refuses_small_buffer_and_invalid_context(void **state) {
  (void)state;
  rpct_span_context ctx = {0};
  char buf[56];
  assert_int_equal(rpct_traceparent_format(&ctx, buf, sizeof buf), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_trace_id_parse(TID, 32, &ctx.trace_id), RPCT_OK);
  assert_int_equal(rpct_traceparent_format(&ctx, buf, sizeof buf), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_span_id_parse(SID, 16, &ctx.span_id), RPCT_OK);
  assert_int_equal(rpct_traceparent_format(&ctx, buf, 55), RPCT_ERR_NO_SPACE);
  assert_int_equal(rpct_traceparent_format(NULL, buf, 56), RPCT_ERR_INVALID_ARGUMENT);
}

static void test_log_format_writes_ids_and_flags(void **state) {
  (void)state;
  const char *in = "00-" TID "-" SID "-01";
  rpct_span_context ctx;
  assert_int_equal(rpct_traceparent_parse(in, strlen(in), &ctx), RPCT_OK);
  char buf[RPCT_LOG_IDS_LEN + 1];
  assert_int_equal(rpct_span_context_format_log(&ctx, buf, sizeof buf), RPCT_LOG_IDS_LEN);
  assert_string_equal(buf, "trace_id=" TID " span_id=" SID " trace_flags=01");
  assert_int_equal(rpct_span_context_format_log(NULL, buf, sizeof buf), RPCT_LOG_IDS_LEN);
  assert_string_equal(buf, "trace_id=00000000000000000000000000000000 span_id=0000000000000000 "
                           "trace_flags=00");
  assert_int_equal(rpct_span_context_format_log(&ctx, buf, RPCT_LOG_IDS_LEN), RPCT_ERR_NO_SPACE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_traceparent_parse_follows_w3c_cases),
      cmocka_unit_test(test_traceparent_parse_uses_length_not_nul),
      cmocka_unit_test(test_traceparent_format_round_trips),
      cmocka_unit_test(test_traceparent_format_writes_version_00_from_higher_version),
      cmocka_unit_test(test_traceparent_format_drops_unknown_flags),
      cmocka_unit_test(test_traceparent_format_refuses_small_buffer_and_invalid_context),
      cmocka_unit_test(test_log_format_writes_ids_and_flags),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
