/*
 * A strict JSON parser (RFC 8259) building a read-only DOM, for the
 * `rpctrace` command's readers of OTLP/JSON lines.
 *
 * Strict means: UTF-8 input only (ill-formed sequences rejected), no
 * comments, no trailing commas, no leading zeros, no unescaped control
 * characters in strings, no lone surrogates in \u escapes (a pair becomes
 * one code point), only space, tab, CR and LF as white space, exactly one
 * value with nothing but white space after it. Duplicate object keys are
 * kept; rtt_json_get() returns the last one, as JavaScript does.
 *
 * Nesting is limited (arrays and objects, `max_depth`), so the recursive
 * descent has a bounded stack whatever the input.
 *
 * Memory: one document owns every node and string of the value it holds
 * (a few large blocks); rtt_json_doc_free() releases them all.
 *
 * Thread safety: a document may be read from any number of threads at
 * once; parsing touches nothing global. Numbers are converted with strtod,
 * which follows LC_NUMERIC: the `rpctrace` command never changes it from
 * "C".
 */
#ifndef RPCTRACE_TOOLS_JSON_H
#define RPCTRACE_TOOLS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum rtt_json_type {
  RTT_JSON_NULL,
  RTT_JSON_BOOL,
  RTT_JSON_NUMBER,
  RTT_JSON_STRING,
  RTT_JSON_ARRAY,
  RTT_JSON_OBJECT
} rtt_json_type;

typedef struct rtt_json rtt_json;
typedef struct rtt_json_member rtt_json_member;

/* A value. Strings (and keys) are NUL-terminated UTF-8 and may also hold
 * NUL characters (from \u0000): `len` is their length in bytes. */
struct rtt_json {
  rtt_json_type type;
  union {
    bool boolean;
    struct {
      double value;     /* strtod of `text` (may be +-HUGE_VAL for 1e999) */
      const char *text; /* the number as written, NUL-terminated */
      size_t len;
    } number;
    struct {
      const char *s;
      size_t len;
    } string;
    struct {
      const rtt_json *items; /* contiguous */
      size_t n;
    } array;
    struct {
      const rtt_json_member *members; /* in input order */
      size_t n;
    } object;
  } u;
};

struct rtt_json_member {
  const char *key;
  size_t key_len;
  rtt_json value;
};

typedef struct rtt_json_doc rtt_json_doc;

/* Where and why parsing failed. `offset` is the byte offset of the first
 * byte that cannot be accepted (the length of the input for a truncated
 * one); `line` and `column` are 1-based, the column counted in bytes. */
typedef struct rtt_json_error {
  size_t offset;
  size_t line;
  size_t column;
  char message[96];
} rtt_json_error;

#define RTT_JSON_DEFAULT_MAX_DEPTH 256

/* Result codes of rtt_json_parse. */
#define RTT_JSON_OK 0
#define RTT_JSON_ESYNTAX (-1) /* not JSON: `err` says where and why */
#define RTT_JSON_ENOMEM (-2)  /* out of memory (err->message says so) */

/*
 * Parse text[0..len) (need not be NUL-terminated; may hold NUL bytes, which
 * are errors). `max_depth` 0: RTT_JSON_DEFAULT_MAX_DEPTH. On success *out
 * is the new document (free with rtt_json_doc_free); on failure *out is
 * untouched and `err` (may be NULL) filled.
 */
int rtt_json_parse(const char *text, size_t len, size_t max_depth, rtt_json_doc **out,
                   rtt_json_error *err);

/* The document's value (owned by the document). */
const rtt_json *rtt_json_root(const rtt_json_doc *doc);

/* Free the document and every value in it. NULL accepted. */
void rtt_json_doc_free(rtt_json_doc *doc);

/* ---- reading helpers; every one accepts NULL and values of any type ---- */

/* The value of the last member named `key` of object `v`, or NULL. */
const rtt_json *rtt_json_get(const rtt_json *v, const char *key);
/* Number of items of an array (0 for anything else) and item i (NULL when
 * out of range or not an array). */
size_t rtt_json_array_len(const rtt_json *v);
const rtt_json *rtt_json_at(const rtt_json *v, size_t i);
/* The string of a string value, else NULL. */
const char *rtt_json_str(const rtt_json *v);
/* An unsigned 64-bit integer written as a decimal string ("123", the
 * protobuf JSON form) or as a JSON number without fraction or exponent.
 * false when `v` is neither or the value is out of range. */
bool rtt_json_u64(const rtt_json *v, uint64_t *out);
/* The same for signed 64-bit integers ("-5" or -5). */
bool rtt_json_i64(const rtt_json *v, int64_t *out);

/* The code point of the UTF-8 sequence at the start of NUL-terminated `s`
 * and its length, or 0 when it is ill-formed (or `s` is empty). */
size_t rtt_utf8_next(const char *s, uint32_t *cp);

#endif /* RPCTRACE_TOOLS_JSON_H */
