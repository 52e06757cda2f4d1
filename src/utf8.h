/*
 * UTF-8 checking, repair and cutting (internal, names rpct__utf8_*): the one
 * validator every string leaving rpctrace goes through, whatever carries
 * it (OTLP protobuf in otlp_encode.c, OTLP/JSON in json_writer.c), and the
 * cut the dispatcher applies to what it copies from a call.
 *
 * Well-formed means RFC 3629 / Unicode Table 3-7: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF. An ill-formed
 * sequence is replaced by U+FFFD per maximal subpart (Unicode 15 §3.9
 * "U+FFFD Substitution of Maximal Subparts", the WHATWG Encoding
 * Standard's decoder): the longest prefix of a well-formed sequence, or
 * else one byte, becomes one U+FFFD. So "\xE2\x82" then "A" gives
 * U+FFFD "A", and "\xED\xA0\x80" (a surrogate) gives three U+FFFD.
 *
 * NUL is a character like any other here; callers that hand strings to
 * protobuf-c (which measures them with strlen) get a repaired string that
 * stays valid when cut at its first NUL, as NUL never sits inside a
 * sequence.
 *
 * Thread safety: pure functions, any thread.
 */
#ifndef RPCTRACE_SRC_UTF8_H
#define RPCTRACE_SRC_UTF8_H

#include <stddef.h>

/* What U+FFFD is in UTF-8. */
#define RPCT__UTF8_REPLACEMENT "\xEF\xBF\xBD"
#define RPCT__UTF8_REPLACEMENT_LEN 3

/* The length of the well-formed sequence at s[0..n) (n > 0, s[0] >= 0x80),
 * or 0 when it is ill-formed; then *skip is the length of its maximal
 * subpart (at least 1): the bytes one U+FFFD replaces. */
size_t rpct__utf8_sequence(const unsigned char *s, size_t n, size_t *skip);

/* The length of the longest well-formed prefix of s[0..n): n when the whole
 * is valid UTF-8. */
size_t rpct__utf8_valid_prefix(const char *s, size_t n);

/* The length of s[0..n) once repaired (rpct__utf8_repair); n when valid. */
size_t rpct__utf8_repaired_len(const char *s, size_t n);

/* Write s[0..n) into out with each maximal subpart of an ill-formed
 * sequence replaced by U+FFFD; out has room for rpct__utf8_repaired_len(s,
 * n) bytes (no NUL is added). Returns the bytes written. */
size_t rpct__utf8_repair(const char *s, size_t n, char *out);

/* Where to cut s[0..n) to at most `max` bytes without splitting a
 * character: max itself, or the start of the well-formed sequence that
 * would straddle it. Bytes that are not a well-formed sequence are cut
 * anywhere (they will be repaired anyway). n when n <= max. */
size_t rpct__utf8_cut(const char *s, size_t n, size_t max);

#endif /* RPCTRACE_SRC_UTF8_H */
