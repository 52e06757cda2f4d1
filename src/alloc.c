/* Allocation through an optional user allocator (NULL: malloc/free). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void *rpct__alloc(const rpct_allocator *a, size_t size) {
  if (size == 0) size = 1;
  return a ? a->alloc(a->data, size) : malloc(size);
}

void *rpct__calloc(const rpct_allocator *a, size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) return NULL;
  void *p = rpct__alloc(a, n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

void rpct__free(const rpct_allocator *a, void *p) {
  if (!p) return;
  if (a)
    a->free(a->data, p);
  else
    free(p);
}

char *rpct__strndup(const rpct_allocator *a, const char *s, size_t len) {
  if (len == RPCT_NTS) len = strlen(s);
  char *p = rpct__alloc(a, len + 1);
  if (!p) return NULL;
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}
