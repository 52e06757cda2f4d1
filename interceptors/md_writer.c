/* The writer filters use to add outgoing metadata to a client call. */
#include <string.h>

#include "interceptors.h"
#include "internal.h"

void rpct__md_writer_init(rpct_md_writer *w, const grpc_metadata *app, size_t n_app,
                          grpc_metadata *out, size_t cap_out, char *buf, size_t cap_buf) {
  *w = (rpct_md_writer){
      .app = app, .n_app = n_app, .out = out, .cap_out = cap_out, .buf = buf, .cap_buf = cap_buf};
  for (size_t i = 0; i < n_app && i < cap_out; i++) out[w->n_out++] = app[i];
}

static bool key_is(grpc_slice s, const char *key, size_t len) {
  return GRPC_SLICE_LENGTH(s) == len && memcmp(GRPC_SLICE_START_PTR(s), key, len) == 0;
}

int rpct_md_writer_add(rpct_md_writer *w, const char *key, size_t key_len, const char *value,
                       size_t value_len) {
  if (!w || !key || (!value && value_len)) return RPCT_ERR_INVALID_ARGUMENT;
  /* Never a second copy of a header the application or a filter set. */
  for (size_t i = 0; i < w->n_out; i++)
    if (key_is(w->out[i].key, key, key_len)) return RPCT_ERR_STATE;
  if (w->n_out == w->cap_out || w->cap_buf - w->used < key_len + value_len)
    return RPCT_ERR_NO_SPACE;
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
