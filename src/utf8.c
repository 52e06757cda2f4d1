/* UTF-8 checking, repair and cutting (see utf8.h). */
#include "utf8.h"

#include <stdbool.h>
#include <string.h>

size_t rpct__utf8_sequence(const unsigned char *s, size_t n, size_t *skip) {
  unsigned char c = s[0];
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte (Table 3-7) */
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0; /* no overlong forms */
    if (c == 0xED) hi = 0x9F; /* no surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90; /* no overlong forms */
    if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
  } else {
    /* A continuation byte alone, C0/C1 (overlong by construction), F5..FF. */
    *skip = 1;
    return 0;
  }
  size_t k = 1;
  while (k < need && k < n) {
    unsigned char x = s[k];
    bool ok = k == 1 ? x >= lo && x <= hi : x >= 0x80 && x <= 0xBF;
    if (!ok) break;
    k++;
  }
  if (k == need) return need;
  *skip = k;
  return 0;
}

size_t rpct__utf8_valid_prefix(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    /* Most strings are ASCII: check them eight bytes at a time. */
    while (i + 8 <= n) {
      unsigned long long w;
      memcpy(&w, u + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    while (i < n && u[i] < 0x80) i++;
    if (i == n) break;
    size_t skip, len = rpct__utf8_sequence(u + i, n - i, &skip);
    if (!len) return i;
    i += len;
  }
  return n;
}

size_t rpct__utf8_repaired_len(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = rpct__utf8_valid_prefix(s, n), out = i;
  while (i < n) {
    if (u[i] < 0x80) {
      i++;
      out++;
      continue;
    }
    size_t skip, len = rpct__utf8_sequence(u + i, n - i, &skip);
    if (len) {
      i += len;
      out += len;
    } else {
      i += skip;
      out += RPCT__UTF8_REPLACEMENT_LEN;
    }
  }
  return out;
}

size_t rpct__utf8_repair(const char *s, size_t n, char *out) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = rpct__utf8_valid_prefix(s, n), o = i;
  memcpy(out, s, i);
  while (i < n) {
    if (u[i] < 0x80) {
      out[o++] = s[i++];
      continue;
    }
    size_t skip, len = rpct__utf8_sequence(u + i, n - i, &skip);
    if (len) {
      memcpy(out + o, s + i, len);
      i += len;
      o += len;
    } else {
      memcpy(out + o, RPCT__UTF8_REPLACEMENT, RPCT__UTF8_REPLACEMENT_LEN);
      i += skip;
      o += RPCT__UTF8_REPLACEMENT_LEN;
    }
  }
  return o;
}

size_t rpct__utf8_cut(const char *s, size_t n, size_t max) {
  if (n <= max) return n;
  const unsigned char *u = (const unsigned char *)s;
  /* A character is at most four bytes: its first byte, if it straddles
   * `max`, is one of the three before it. */
  for (size_t k = 1; k <= 3 && k <= max; k++) {
    unsigned char c = u[max - k];
    if (c < 0x80) return max;
    if (c < 0xC0) continue; /* a continuation byte: look further back */
    size_t skip, len = rpct__utf8_sequence(u + max - k, n - (max - k), &skip);
    return len > k ? max - k : max;
  }
  return max;
}
