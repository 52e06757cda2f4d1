/*
 * Low-level JSON output into a growable buffer (internal, names rpct__json_*).
 * Shared by the OTLP/JSON lines exporter (otlp_json_exporter.c) and the
 * `rpctrace` command's protobuf-to-JSON conversion (tools/otlp_pb_json.c),
 * so both write the same bytes for the same values.
 *
 * Choices made once here:
 * - 64-bit integers are written as JSON strings (the protobuf JSON mapping):
 *   readers holding numbers as doubles would round them.
 * - Doubles use the shortest of %.15g/%.16g/%.17g that reads back exactly,
 *   so 0.1 is written 0.1, whatever LC_NUMERIC says; NaN and the infinities
 *   as the protobuf JSON strings "NaN", "Infinity", "-Infinity".
 * - Strings are checked as UTF-8 by the validator the protobuf encoder
 *   uses too (src/utf8.h): each ill-formed sequence (the longest prefix of
 *   a valid one, or else one byte) becomes U+FFFD, so no input makes the
 *   output invalid JSON, and both encodings repair a string alike.
 *   Control characters are escaped.
 * - Bytes are lowercase hex (OTLP ids) or standard base64 with padding
 *   (proto3 JSON `bytes`).
 *
 * Errors: a failed allocation marks the buffer `oom`; every later put is a
 * no-op until rpct__json_reset, so a writer checks `oom` once at the end.
 *
 * Thread safety: a buffer is used by one thread at a time.
 */
#ifndef RPCTRACE_SRC_EXPORT_JSON_WRITER_H
#define RPCTRACE_SRC_EXPORT_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpctrace/common.h"

typedef struct rpct__json_buf {
  const rpct_allocator *alloc; /* borrowed, must outlive the buffer; NULL: malloc */
  char *buf;                   /* owned; not NUL-terminated */
  size_t len, cap;
  size_t initial; /* capacity of the first allocation */
  bool oom;       /* growing failed: the output is abandoned */
} rpct__json_buf;

/* An empty buffer; allocates nothing. `initial` 0: 256 bytes. */
void rpct__json_init(rpct__json_buf *b, const rpct_allocator *alloc, size_t initial);
/* Free the memory (the buffer is empty and may be used again). */
void rpct__json_release(rpct__json_buf *b);
/* Empty the buffer, keep its memory, clear `oom`. */
void rpct__json_reset(rpct__json_buf *b);
/* Room for `more` bytes after `len`; false (and `oom` set) when growing
 * fails. The allocator has no realloc: growing allocates anew and copies. */
bool rpct__json_reserve(rpct__json_buf *b, size_t more);

/* Raw bytes, copied as they are. */
void rpct__json_put(rpct__json_buf *b, const char *s, size_t n);
#define RPCT__JSON_LIT(b, lit) rpct__json_put((b), (lit), sizeof(lit) - 1)
void rpct__json_char(rpct__json_buf *b, char c);

/* `"name":`, preceded by a comma unless *first (which it then clears).
 * `name` is written unescaped: a fixed field name. */
void rpct__json_key(rpct__json_buf *b, bool *first, const char *name);

void rpct__json_bool(rpct__json_buf *b, bool v);
void rpct__json_u32(rpct__json_buf *b, uint32_t v);     /* a JSON number */
void rpct__json_u64_str(rpct__json_buf *b, uint64_t v); /* "123" */
void rpct__json_i64_str(rpct__json_buf *b, int64_t v);  /* "-123" */
void rpct__json_double(rpct__json_buf *b, double v);
/* `n` bytes as a string of 2n lowercase hex digits. */
void rpct__json_hex(rpct__json_buf *b, const uint8_t *bytes, size_t n);
/* `n` bytes as a string in standard base64 (RFC 4648, padded). */
void rpct__json_base64(rpct__json_buf *b, const uint8_t *bytes, size_t n);
/* s[0..n) as a JSON string (RFC 8259), quoted, escaped, UTF-8 repaired. */
void rpct__json_str(rpct__json_buf *b, const char *s, size_t n);
void rpct__json_cstr(rpct__json_buf *b, const char *s);

#endif /* RPCTRACE_SRC_EXPORT_JSON_WRITER_H */
