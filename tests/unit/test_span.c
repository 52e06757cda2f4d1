/* Spans: start and end, parents, attributes and their limits, events,
 * links, status, end exactly once, non-recording spans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_util.h"

static tu_tracer T;

static int setup(void **state) {
  (void)state;
  T = tu_tracer_new(NULL, NULL);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rpct_tracer_del(T.tracer);
  return 0;
}

static rpct_span_data exported(size_t i) {
  rpct_span_data d;
  assert_int_equal(rpct_memory_exporter_get(T.memory, i, &d), RPCT_OK);
  return d;
}

static const rpct_span_attr *find_attr(const rpct_span_data *d, uint8_t owner, const char *key) {
  for (uint16_t i = 0; i < d->n_attrs; i++)
    if (d->attrs[i].owner == owner && strcmp(rpct_span_data_str(d, d->attrs[i].key), key) == 0)
      return &d->attrs[i];
  return NULL;
}

static void test_span_records_name_kind_ids_and_times(void **state) {
  (void)state;
  rpct_span span;
  uint64_t before = rpct_now_unix_ns();
  assert_int_equal(rpct_span_start(&span, T.tracer, "pkg.Svc/Call", RPCT_SPAN_KIND_CLIENT, NULL),
                   RPCT_OK);
  assert_true(rpct_span_is_recording(&span));
  rpct_span_context ctx = *rpct_span_get_context(&span);
  assert_true(rpct_span_context_is_valid(&ctx));
  assert_int_equal(ctx.flags, RPCT_TRACE_FLAG_SAMPLED | RPCT_TRACE_FLAG_RANDOM);
  assert_false(ctx.remote);
  assert_int_equal(rpct_span_end(&span, 0), RPCT_OK);
  uint64_t after = rpct_now_unix_ns();
  assert_false(rpct_span_is_recording(&span));

  assert_int_equal(rpct_memory_exporter_count(T.memory), 1);
  rpct_span_data d = exported(0);
  assert_string_equal(rpct_span_data_str(&d, d.name), "pkg.Svc/Call");
  assert_int_equal(d.kind, RPCT_SPAN_KIND_CLIENT);
  assert_memory_equal(d.trace_id.bytes, ctx.trace_id.bytes, 16);
  assert_memory_equal(d.span_id.bytes, ctx.span_id.bytes, 8);
  assert_false(rpct_span_id_is_valid(&d.parent_span_id));
  assert_int_equal(d.flags, ctx.flags);
  assert_int_equal(d.status_code, RPCT_STATUS_UNSET);
  assert_true(d.start_unix_ns >= before && d.start_unix_ns <= d.end_unix_ns);
  assert_true(d.end_unix_ns <= after + 1000000); /* monotonic end within 1 ms of wall clock */
  assert_string_equal(rpct_resource_get(d.resource, "service.name"), "unit-test");
  assert_string_equal(d.scope_name, "rpctrace");
  assert_string_equal(d.scope_version, RPCT_VERSION_STRING);
}

static void test_span_child_of_explicit_parent_shares_trace(void **state) {
  (void)state;
  rpct_span_context remote;
  const char *tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  assert_int_equal(rpct_traceparent_parse(tp, strlen(tp), &remote), RPCT_OK);
  assert_int_equal(rpct_tracestate_parse("congo=t61rcWkgMzE", 17, &remote.tracestate), RPCT_OK);
  rpct_span server, child;
  assert_int_equal(rpct_span_start(&server, T.tracer, "srv", RPCT_SPAN_KIND_SERVER, &remote),
                   RPCT_OK);
  assert_int_equal(rpct_span_start(&child, T.tracer, "work", RPCT_SPAN_KIND_INTERNAL,
                                   rpct_span_get_context(&server)),
                   RPCT_OK);
  assert_int_equal(rpct_span_end(&child, 0), RPCT_OK);
  assert_int_equal(rpct_span_end(&server, 0), RPCT_OK);

  rpct_span_data c = exported(0), s = exported(1);
  char hex[33];
  tu_hex(s.trace_id.bytes, 16, hex);
  assert_string_equal(hex, "0af7651916cd43dd8448eb211c80319c");
  tu_hex(s.parent_span_id.bytes, 8, hex);
  assert_string_equal(hex, "b7ad6b7169203331");
  assert_true(s.parent_remote);
  assert_string_equal(rpct_span_data_str(&s, s.tracestate), "congo=t61rcWkgMzE");
  /* The remote parent had no random flag: none is claimed for its trace. */
  assert_int_equal(s.flags, RPCT_TRACE_FLAG_SAMPLED);
  assert_memory_equal(c.trace_id.bytes, s.trace_id.bytes, 16);
  assert_memory_equal(c.parent_span_id.bytes, s.span_id.bytes, 8);
  assert_false(c.parent_remote);
  assert_string_equal(rpct_span_data_str(&c, c.tracestate), "congo=t61rcWkgMzE");
}

static void test_span_without_parent_uses_thread_context_and_invalid_parent_is_root(void **state) {
  (void)state;
  rpct_span outer, implicit, root;
  rpct_span_start(&outer, T.tracer, "outer", RPCT_SPAN_KIND_INTERNAL, NULL);
  rpct_context_token tok = rpct_context_attach(rpct_span_get_context(&outer));
  rpct_span_start(&implicit, T.tracer, "implicit", RPCT_SPAN_KIND_INTERNAL, NULL);
  const rpct_span_context none = {0};
  rpct_span_start(&root, T.tracer, "root", RPCT_SPAN_KIND_INTERNAL, &none);
  assert_int_equal(rpct_context_detach(tok), RPCT_OK);
  rpct_span_end(&root, 0);
  rpct_span_end(&implicit, 0);
  rpct_span_end(&outer, 0);
  rpct_span_data r = exported(0), i = exported(1), o = exported(2);
  assert_memory_equal(i.trace_id.bytes, o.trace_id.bytes, 16);
  assert_memory_equal(i.parent_span_id.bytes, o.span_id.bytes, 8);
  assert_memory_not_equal(r.trace_id.bytes, o.trace_id.bytes, 16);
  assert_false(rpct_span_id_is_valid(&r.parent_span_id));
}

static void test_span_attributes_keep_type_and_value_and_replace_by_key(void **state) {
  (void)state;
  rpct_span span;
  rpct_span_start(&span, T.tracer, "a", RPCT_SPAN_KIND_CLIENT, NULL);
  assert_int_equal(rpct_span_set_str(&span, "rpc.system", "grpc"), RPCT_OK);
  assert_int_equal(rpct_span_set_int(&span, "rpc.grpc.status_code", 5), RPCT_OK);
  assert_int_equal(rpct_span_set_double(&span, "ratio", 0.5), RPCT_OK);
  assert_int_equal(rpct_span_set_bool(&span, "retry", true), RPCT_OK);
  assert_int_equal(rpct_span_set_strn(&span, "method", "GetUserXYZ", 7), RPCT_OK);
  assert_int_equal(rpct_span_set_int(&span, "rpc.grpc.status_code", 0), RPCT_OK);
  assert_int_equal(rpct_span_set_str(&span, "", "empty key"), RPCT_ERR_INVALID_ARGUMENT);
  rpct_span_end(&span, 0);
  rpct_span_data d = exported(0);
  assert_int_equal(d.n_attrs, 5);
  assert_int_equal(d.dropped_attributes, 0);
  const rpct_span_attr *a = find_attr(&d, RPCT_ATTR_OWNER_SPAN, "rpc.system");
  assert_non_null(a);
  assert_int_equal(a->type, RPCT_VALUE_STRING);
  assert_string_equal(rpct_span_data_str(&d, a->v.s), "grpc");
  a = find_attr(&d, RPCT_ATTR_OWNER_SPAN, "rpc.grpc.status_code");
  assert_int_equal(a->type, RPCT_VALUE_INT);
  assert_int_equal(a->v.i, 0);
  assert_true(find_attr(&d, RPCT_ATTR_OWNER_SPAN, "ratio")->v.d == 0.5);
  assert_true(find_attr(&d, RPCT_ATTR_OWNER_SPAN, "retry")->v.b);
  assert_string_equal(rpct_span_data_str(&d, find_attr(&d, RPCT_ATTR_OWNER_SPAN, "method")->v.s),
                      "GetUser");
  /* Insertion order is kept. */
  assert_string_equal(rpct_span_data_str(&d, d.attrs[0].key), "rpc.system");
  assert_string_equal(rpct_span_data_str(&d, d.attrs[4].key), "method");
}

static void test_span_attribute_count_and_length_limits_drop_and_count(void **state) {
  (void)state;
  rpct_tracer_del(T.tracer);
  rpct_span_limits lim;
  rpct_span_limits_default(&lim);
  lim.attribute_count = 3;
  lim.attribute_value_length = 5;
  T = tu_tracer_new(NULL, &lim);
  rpct_span span;
  rpct_span_start(&span, T.tracer, "a", RPCT_SPAN_KIND_CLIENT, NULL);
  assert_int_equal(rpct_span_set_str(&span, "k1", "abcdefgh"), RPCT_OK);
  assert_int_equal(rpct_span_set_str(&span, "k2", "\xc3\xa9\xc3\xa9\xc3\xa9"), RPCT_OK); /* ééé */
  assert_int_equal(rpct_span_set_int(&span, "k3", 3), RPCT_OK);
  assert_int_equal(rpct_span_set_int(&span, "k4", 4), RPCT_ERR_LIMIT);
  assert_int_equal(rpct_span_set_bool(&span, "k5", false), RPCT_ERR_LIMIT);
  assert_int_equal(rpct_span_set_int(&span, "k3", 33), RPCT_OK); /* replacing needs no slot */
  rpct_span_end(&span, 0);
  rpct_span_data d = exported(0);
  assert_int_equal(d.n_attrs, 3);
  assert_int_equal(d.dropped_attributes, 2);
  assert_string_equal(rpct_span_data_str(&d, find_attr(&d, 0, "k1")->v.s), "abcde");
  /* Truncation never splits a UTF-8 sequence: 5 bytes hold two é. */
  assert_string_equal(rpct_span_data_str(&d, find_attr(&d, 0, "k2")->v.s), "\xc3\xa9\xc3\xa9");
  assert_int_equal(find_attr(&d, 0, "k3")->v.i, 33);
}

static void test_span_string_space_exhaustion_drops_attributes_safely(void **state) {
  (void)state;
  char big[600];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  rpct_span span;
  rpct_span_start(&span, T.tracer, "a", RPCT_SPAN_KIND_CLIENT, NULL);
  int ok = 0, dropped = 0;
  for (int i = 0; i < 8; i++) {
    char key[8];
    snprintf(key, sizeof key, "k%d", i);
    int rc = rpct_span_set_str(&span, key, big);
    ok += rc == RPCT_OK;
    dropped += rc == RPCT_ERR_LIMIT;
  }
  rpct_span_end(&span, 0);
  rpct_span_data d = exported(0);
  assert_int_equal(ok, 3); /* 2048 bytes: name + 3 x (599 + 1 + key) */
  assert_int_equal(dropped, 5);
  assert_int_equal(d.dropped_attributes, 5);
  assert_true(d.strings_used <= RPCT_SPAN_STRING_BYTES);
}

/* "a|b|c" for a string[] attribute (elements joined by '|'). */
static const char *joined(const rpct_span_data *d, const rpct_span_attr *a) {
  static char buf[256];
  size_t cursor = 0, len, used = 0;
  const char *e;
  buf[0] = '\0';
  while (rpct_span_attr_array_next(d, a, &cursor, &e, &len)) {
    assert_int_equal(strlen(e), len); /* each element is NUL-terminated */
    used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", used ? "|" : "", e);
  }
  return buf;
}

static void test_span_string_arrays_keep_each_element(void **state) {
  (void)state;
  rpct_tracer_del(T.tracer);
  rpct_span_limits lim;
  rpct_span_limits_default(&lim);
  lim.attribute_value_length = 4;
  T = tu_tracer_new(NULL, &lim);
  rpct_span span;
  rpct_span_start(&span, T.tracer, "a", RPCT_SPAN_KIND_SERVER, NULL);
  static const char *const v[] = {"1.2.3.4", "", "ab", "x\0y", "\xc3\xa9\xc3\xa9\xc3\xa9"};
  static const size_t lens[] = {7, 0, 1, 3, 6};
  assert_int_equal(rpct_span_set_str_array(&span, "cut", v, lens, 5), RPCT_OK);
  assert_int_equal(rpct_span_set_str_array(&span, "nts", v, NULL, 3), RPCT_OK);
  assert_int_equal(rpct_span_set_str_array(&span, "empty", NULL, NULL, 0), RPCT_OK);
  assert_int_equal(rpct_span_set_str_array(&span, "bad", NULL, NULL, 2), RPCT_ERR_INVALID_ARGUMENT);
  /* Replacing by key works across types. */
  assert_int_equal(rpct_span_set_str(&span, "nts", "s"), RPCT_OK);
  assert_int_equal(rpct_span_set_str_array(&span, "nts", v + 2, NULL, 1), RPCT_OK);
  rpct_span_end(&span, 0);
  rpct_span_data d = exported(0);
  assert_int_equal(d.n_attrs, 3);
  const rpct_span_attr *a = find_attr(&d, RPCT_ATTR_OWNER_SPAN, "cut");
  assert_int_equal(a->type, RPCT_VALUE_STRING_ARRAY);
  assert_int_equal(a->n_values, 5);
  /* Each element is cut to the length limit (never inside a UTF-8
   * sequence), at a NUL, and by its given length. */
  assert_string_equal(joined(&d, a), "1.2.||a|x|\xc3\xa9\xc3\xa9");
  a = find_attr(&d, RPCT_ATTR_OWNER_SPAN, "nts");
  assert_int_equal(a->n_values, 1);
  assert_string_equal(joined(&d, a), "ab");
  a = find_attr(&d, RPCT_ATTR_OWNER_SPAN, "empty");
  assert_int_equal(a->type, RPCT_VALUE_STRING_ARRAY);
  assert_int_equal(a->n_values, 0);
  size_t cursor = 0, len;
  const char *e;
  assert_false(rpct_span_attr_array_next(&d, a, &cursor, &e, &len));
  /* A hand-made record pointing past its strings reads as no element. */
  rpct_span_attr bad = *a;
  bad.n_values = 1;
  bad.v.s = (rpct_str){.off = RPCT_SPAN_STRING_BYTES - 1, .len = 5};
  cursor = 0;
  assert_false(rpct_span_attr_array_next(&d, &bad, &cursor, &e, &len));
}

/* Every message event repeats the same keys: they are stored once. */
static void test_span_shares_repeated_attribute_keys(void **state) {
  (void)state;
  rpct_span span;
  rpct_span_start(&span, T.tracer, "a", RPCT_SPAN_KIND_CLIENT, NULL);
  rpct_attribute ev[] = {RPCT_ATTR_STR("rpc.message.type", "SENT"),
                         RPCT_ATTR_INT("rpc.message.uncompressed_size", 1)};
  uint16_t before = 0;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(rpct_span_add_event(&span, "rpc.message", 0, ev, 2), RPCT_OK);
    if (i == 0) before = span.data_.strings_used;
  }
  /* Later events add their names and the string value only. */
  assert_int_equal(span.data_.strings_used - before, 2 * (sizeof "rpc.message" + sizeof "SENT"));
  rpct_span_end(&span, 0);
  rpct_span_data d = exported(0);
  assert_int_equal(d.n_events, 3);
  assert_int_equal(d.attrs[0].key.off, d.attrs[2].key.off);
  assert_string_equal(rpct_span_data_str(&d, d.attrs[4].key), "rpc.message.type");
}

static void test_span_events_and_links_with_their_attributes(void **state) {
  (void)state;
  rpct_span_context other;
  const char *tp = "00-11111111111111111111111111111111-2222222222222222-01";
  rpct_traceparent_parse(tp, strlen(tp), &other);
  const rpct_span_context *links[] = {&other};
  rpct_span_start_args args = {.name = "with-links", .name_len = RPCT_NTS,
                               .kind = RPCT_SPAN_KIND_SERVER, .links = links, .n_links = 1,
                               .start_unix_ns = 1000, .parent = NULL};
  rpct_span span;
  assert_int_equal(rpct_span_start_ex(&span, T.tracer, &args), RPCT_OK);
  rpct_attribute ev_attrs[] = {RPCT_ATTR_STR("message.type", "SENT"), RPCT_ATTR_INT("message.id", 1)};
  assert_int_equal(rpct_span_add_event(&span, "message", 1500, ev_attrs, 2), RPCT_OK);
  rpct_attribute link_attr = RPCT_ATTR_BOOL("public.endpoint", true);
  assert_int_equal(rpct_span_add_link(&span, &other, &link_attr, 1), RPCT_OK);
  const rpct_span_context invalid = {0};
  assert_int_equal(rpct_span_add_link(&span, &invalid, NULL, 0), RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_span_end(&span, 2000), RPCT_OK);
  rpct_span_data d = exported(0);
  assert_int_equal(d.start_unix_ns, 1000);
  assert_int_equal(d.end_unix_ns, 2000);
  assert_int_equal(d.n_events, 1);
  assert_int_equal(d.events[0].time_unix_ns, 1500);
  assert_string_equal(rpct_span_data_str(&d, d.events[0].name), "message");
  assert_string_equal(
      rpct_span_data_str(&d, find_attr(&d, RPCT_ATTR_OWNER_EVENT(0), "message.type")->v.s), "SENT");
  assert_int_equal(find_attr(&d, RPCT_ATTR_OWNER_EVENT(0), "message.id")->v.i, 1);
  assert_null(find_attr(&d, RPCT_ATTR_OWNER_SPAN, "message.id"));
  assert_int_equal(d.n_links, 2);
  char hex[33];
  tu_hex(d.links[1].trace_id.bytes, 16, hex);
  assert_string_equal(hex, "11111111111111111111111111111111");
  assert_true(find_attr(&d, RPCT_ATTR_OWNER_LINK(1), "public.endpoint")->v.b);
  assert_null(find_attr(&d, RPCT_ATTR_OWNER_LINK(0), "public.endpoint"));
}

static void test_span_event_and_link_limits(void **state) {
  (void)state;
  rpct_tracer_del(T.tracer);
  rpct_span_limits lim;
  rpct_span_limits_default(&lim);
  lim.event_count = 2;
  lim.link_count = 1;
  lim.event_attribute_count = 1;
  T = tu_tracer_new(NULL, &lim);
  rpct_span_context other = {0};
  rpct_trace_id_generate(&other.trace_id);
  rpct_span_id_generate(&other.span_id);
  rpct_span span;
  rpct_span_start(&span, T.tracer, "a", RPCT_SPAN_KIND_CLIENT, NULL);
  rpct_attribute two[] = {RPCT_ATTR_INT("a", 1), RPCT_ATTR_INT("b", 2)};
  assert_int_equal(rpct_span_add_event(&span, "e1", 0, two, 2), RPCT_OK);
  assert_int_equal(rpct_span_add_event(&span, "e2", 0, NULL, 0), RPCT_OK);
  assert_int_equal(rpct_span_add_event(&span, "e3", 0, NULL, 0), RPCT_ERR_LIMIT);
  assert_int_equal(rpct_span_add_link(&span, &other, NULL, 0), RPCT_OK);
  assert_int_equal(rpct_span_add_link(&span, &other, NULL, 0), RPCT_ERR_LIMIT);
  rpct_span_end(&span, 0);
  rpct_span_data d = exported(0);
  assert_int_equal(d.n_events, 2);
  assert_int_equal(d.dropped_events, 1);
  assert_int_equal(d.events[0].dropped_attributes, 1);
  assert_int_equal(d.n_links, 1);
  assert_int_equal(d.dropped_links, 1);
}

static void test_span_status_rules(void **state) {
  (void)state;
  struct {
    rpct_status_code first, second;
    const char *msg;
    int want_code;
    const char *want_msg;
  } cases[] = {
      {RPCT_STATUS_ERROR, RPCT_STATUS_UNSET, "boom", RPCT_STATUS_ERROR, "boom"},
      {RPCT_STATUS_OK, RPCT_STATUS_ERROR, "late", RPCT_STATUS_OK, ""},
      {RPCT_STATUS_ERROR, RPCT_STATUS_OK, "boom", RPCT_STATUS_OK, ""},
      {RPCT_STATUS_UNSET, RPCT_STATUS_UNSET, "x", RPCT_STATUS_UNSET, ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rpct_span span;
    rpct_span_start(&span, T.tracer, "s", RPCT_SPAN_KIND_SERVER, NULL);
    rpct_span_set_status(&span, cases[i].first, cases[i].msg);
    rpct_span_set_status(&span, cases[i].second, cases[i].msg);
    rpct_span_end(&span, 0);
    rpct_span_data d = exported(i);
    assert_int_equal(d.status_code, cases[i].want_code);
    assert_string_equal(d.status_message.len ? rpct_span_data_str(&d, d.status_message) : "",
                        cases[i].want_msg);
  }
  /* OK drops its description. */
  rpct_span span;
  rpct_span_start(&span, T.tracer, "s", RPCT_SPAN_KIND_SERVER, NULL);
  rpct_span_set_status(&span, RPCT_STATUS_OK, "ignored");
  rpct_span_end(&span, 0);
  assert_int_equal(exported(4).status_message.len, 0);
}

static void test_span_end_twice_is_counted_and_exported_once(void **state) {
  (void)state;
  rpct_span span;
  rpct_span_start(&span, T.tracer, "once", RPCT_SPAN_KIND_CLIENT, NULL);
  assert_int_equal(rpct_span_end(&span, 0), RPCT_OK);
  assert_int_equal(rpct_span_end(&span, 0), RPCT_ERR_STATE);
  assert_int_equal(rpct_span_set_int(&span, "late", 1), RPCT_ERR_STATE);
  rpct_tracer_stats st;
  rpct_tracer_get_stats(T.tracer, &st);
  assert_int_equal(st.spans_started, 1);
  assert_int_equal(st.spans_ended, 1);
  assert_int_equal(st.spans_ended_twice, 1);
  assert_int_equal(rpct_memory_exporter_count(T.memory), 1);
}

static void test_unsampled_span_propagates_but_records_nothing(void **state) {
  (void)state;
  rpct_tracer_del(T.tracer);
  rpct_sampler *off;
  rpct_sampler_always_off_new(&off, NULL);
  T = tu_tracer_new(off, NULL);
  rpct_span_context parent = {0};
  rpct_trace_id_generate(&parent.trace_id);
  rpct_span_id_generate(&parent.span_id);
  rpct_span span;
  assert_int_equal(rpct_span_start(&span, T.tracer, "x", RPCT_SPAN_KIND_CLIENT, &parent), RPCT_OK);
  assert_false(rpct_span_is_recording(&span));
  const rpct_span_context *c = rpct_span_get_context(&span);
  assert_true(rpct_span_context_is_valid(c));
  assert_memory_equal(c->trace_id.bytes, parent.trace_id.bytes, 16);
  assert_memory_not_equal(c->span_id.bytes, parent.span_id.bytes, 8);
  assert_false(rpct_span_context_is_sampled(c));
  assert_int_equal(rpct_span_set_int(&span, "k", 1), RPCT_ERR_STATE);
  assert_int_equal(rpct_span_end(&span, 0), RPCT_OK);
  assert_int_equal(rpct_memory_exporter_count(T.memory), 0);
  rpct_tracer_stats st;
  rpct_tracer_get_stats(T.tracer, &st);
  assert_int_equal(st.spans_not_recorded, 1);
  assert_int_equal(st.spans_started, 0);
}

static rpct_sampling_decision record_only(void *data, const rpct_sampling_params *p) {
  (void)data, (void)p;
  return RPCT_SAMPLING_RECORD_ONLY;
}

static void test_record_only_span_records_but_is_not_exported(void **state) {
  (void)state;
  rpct_tracer_del(T.tracer);
  rpct_sampler *s;
  rpct_sampler_custom_new(&s, record_only, NULL, "RecordOnly", NULL);
  T = tu_tracer_new(s, NULL);
  rpct_span span;
  rpct_span_start(&span, T.tracer, "x", RPCT_SPAN_KIND_CLIENT, NULL);
  assert_true(rpct_span_is_recording(&span));
  assert_false(rpct_span_context_is_sampled(rpct_span_get_context(&span)));
  assert_int_equal(rpct_span_set_int(&span, "k", 1), RPCT_OK);
  rpct_span_end(&span, 0);
  rpct_tracer_stats st;
  rpct_tracer_get_stats(T.tracer, &st);
  assert_int_equal(st.spans_ended, 1);
  assert_int_equal(rpct_memory_exporter_count(T.memory), 0);
}

static void test_span_without_any_tracer_carries_parent(void **state) {
  (void)state;
  assert_null(rpct_tracer_global());
  rpct_span_context parent = {0};
  rpct_trace_id_generate(&parent.trace_id);
  rpct_span_id_generate(&parent.span_id);
  parent.flags = RPCT_TRACE_FLAG_SAMPLED;
  rpct_span span;
  assert_int_equal(rpct_span_start(&span, NULL, "x", RPCT_SPAN_KIND_CLIENT, &parent), RPCT_OK);
  assert_false(rpct_span_is_recording(&span));
  assert_memory_equal(rpct_span_get_context(&span), &parent, offsetof(rpct_span_context, remote));
  assert_int_equal(rpct_span_end(&span, 0), RPCT_OK);
  /* With a global tracer, NULL means that tracer. */
  rpct_tracer_set_global(T.tracer);
  rpct_span_start(&span, NULL, "global", RPCT_SPAN_KIND_CLIENT, NULL);
  rpct_span_end(&span, 0);
  assert_int_equal(rpct_memory_exporter_count(T.memory), 1);
  rpct_tracer_set_global(NULL);
}

static void test_zero_filled_span_is_inert(void **state) {
  (void)state;
  rpct_span span;
  memset(&span, 0, sizeof span);
  assert_false(rpct_span_is_recording(&span));
  assert_false(rpct_span_context_is_valid(rpct_span_get_context(&span)));
  assert_int_equal(rpct_span_set_int(&span, "k", 1), RPCT_ERR_STATE);
  assert_int_equal(rpct_span_end(&span, 0), RPCT_ERR_STATE);
  assert_int_equal(rpct_span_start(&span, T.tracer, NULL, RPCT_SPAN_KIND_CLIENT, NULL),
                   RPCT_ERR_INVALID_ARGUMENT);
  assert_int_equal(rpct_span_end(&span, 0), RPCT_ERR_STATE);
  rpct_tracer_stats st;
  rpct_tracer_get_stats(T.tracer, &st);
  assert_int_equal(st.spans_ended_twice, 0);
}

static void test_span_data_copy_keeps_every_used_field(void **state) {
  (void)state;
  rpct_span span;
  rpct_span_start(&span, T.tracer, "copy", RPCT_SPAN_KIND_CLIENT, NULL);
  rpct_span_set_str(&span, "a", "b");
  rpct_attribute ea = RPCT_ATTR_INT("n", 7);
  rpct_span_add_event(&span, "ev", 0, &ea, 1);
  rpct_span_set_status(&span, RPCT_STATUS_ERROR, "bad");
  rpct_span_end(&span, 0);
  rpct_span_data src = exported(0), dst;
  /* Unset strings read as "", not as whatever is at offset 0. */
  rpct_span_data plain = exported(0);
  plain.tracestate = (rpct_str){0, 0};
  assert_string_equal(rpct_span_data_str(&plain, plain.tracestate), "");
  memset(&dst, 0x5A, sizeof dst);
  rpct_span_data_copy(&dst, &src);
  assert_memory_equal(&dst, &src, offsetof(rpct_span_data, attrs));
  assert_memory_equal(dst.attrs, src.attrs, src.n_attrs * sizeof src.attrs[0]);
  assert_memory_equal(dst.events, src.events, src.n_events * sizeof src.events[0]);
  assert_memory_equal(dst.strings, src.strings, src.strings_used);
  assert_string_equal(rpct_span_data_str(&dst, dst.status_message), "bad");
}

int main(void) {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T_(test_span_records_name_kind_ids_and_times),
      T_(test_span_child_of_explicit_parent_shares_trace),
      T_(test_span_without_parent_uses_thread_context_and_invalid_parent_is_root),
      T_(test_span_attributes_keep_type_and_value_and_replace_by_key),
      T_(test_span_attribute_count_and_length_limits_drop_and_count),
      T_(test_span_string_space_exhaustion_drops_attributes_safely),
      T_(test_span_string_arrays_keep_each_element),
      T_(test_span_shares_repeated_attribute_keys),
      T_(test_span_events_and_links_with_their_attributes),
      T_(test_span_event_and_link_limits),
      T_(test_span_status_rules),
      T_(test_span_end_twice_is_counted_and_exported_once),
      T_(test_unsampled_span_propagates_but_records_nothing),
      T_(test_record_only_span_records_but_is_not_exported),
      T_(test_span_without_any_tracer_carries_parent),
      T_(test_zero_filled_span_is_inert),
      T_(test_span_data_copy_keeps_every_used_field),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
