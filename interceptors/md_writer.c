/* The writer filters use to add outgoing metadata to a client call. */
#include <stdatomic.h>
#include <string.h>

#include "interceptors.h"
#include "internal.h"

/* Text chunks taken from the call arena once the caller's buffer is full:
 * big enough that a few small headers do not each take one. */
#define ARENA_CHUNK 1024

/* Entries refused for want of room; relaxed, any thread. */
static atomic_uint_least64_t dropped;

uint64_t rpct__md_writer_dropped(void) {
  return atomic_load_explicit(&dropped, memory_order_relaxed);
}

void rpct__md_writer_init(rpct_md_writer *w, const grpc_metadata *app, size_t n_app,
                          grpc_metadata *out, size_t cap_out, char *buf, size_t cap_buf) {
  *w = (rpct_md_writer){
      .app = app, .n_app = n_app, .out = out, .cap_out = cap_out, .buf = buf, .cap_buf = cap_buf};
  for (size_t i = 0; i < n_app && i < cap_out; i++) out[w->n_out++] = app[i];
}

static bool key_is(grpc_slice s, const char *key, size_t len) {
  return GRPC_SLICE_LENGTH(s) == len && memcmp(GRPC_SLICE_START_PTR(s), key, len) == 0;
}

/* Room for one more entry: the caller's array, then a copy of it twice as
 * large in the call's arena. */
static bool entry_room(rpct_md_writer *w) {
  if (w->n_out < w->cap_out) return true;
  if (!w->call) return false;
  size_t cap = 2 * w->cap_out + 4;
  grpc_metadata *out = grpc_call_arena_alloc(w->call, cap * sizeof *out);
  if (!out) return false;
  memcpy(out, w->out, w->n_out * sizeof *out);
  w->out = out;
  w->cap_out = cap;
  return true;
}

/* Room for `need` more bytes of text: the caller's buffer, then chunks of
 * the call's arena. Text already written stays where it is. */
static bool text_room(rpct_md_writer *w, size_t need) {
  if (w->cap_buf - w->used >= need) return true;
  if (!w->call) return false;
  size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;
  char *buf = grpc_call_arena_alloc(w->call, cap);
  if (!buf) return false;
  w->buf = buf;
  w->used = 0;
  w->cap_buf = cap;
  return true;
}

int rpct_md_writer_add(rpct_md_writer *w, const char *key, size_t key_len, const char *value,
                       size_t value_len) {
  if (!w || !key || (!value && value_len)) return RPCT_ERR_INVALID_ARGUMENT;
  /* Never a second copy of a header the application or a filter set. */
  for (size_t i = 0; i < w->n_out; i++)
    if (key_is(w->out[i].key, key, key_len)) return RPCT_ERR_STATE;
  if (!entry_room(w) || !text_room(w, key_len + value_len)) {
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
    return RPCT_ERR_NO_SPACE;
  }
  char *k = w->buf + w->used;
  memcpy(k, key, key_len);
  char *v = k + key_len;
  if (value_len) memcpy(v, value, value_len);
  w->used += key_len + value_len;
  grpc_metadata *m = &w->out[w->n_out++];
  memset(m, 0, sizeof *m);
  m->key = grpc_slice_from_static_buffer(k, key_len);
  m->value = grpc_slice_from_static_buffer(v, value_len);
  return RPCT_OK;
}
