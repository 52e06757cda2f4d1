/*
 * Counting every heap allocation of the process, for the tests that prove a
 * piece of code allocates nothing. In a plain build malloc and friends are
 * replaced (forwarding to glibc's __libc_* functions); under a sanitizer,
 * whose allocator cannot be replaced, its malloc hook counts; under
 * valgrind, whose malloc replaces ours, counting is unavailable.
 */
#ifndef RPCT_TESTS_ALLOC_COUNT_H
#define RPCT_TESTS_ALLOC_COUNT_H

#include <stdbool.h>
#include <stddef.h>

/* Once, at the start of main. */
void alloc_count_install(void);
/* False under valgrind: a test should then skip, saying why. */
bool alloc_count_available(void);
/* Start counting from zero; stop and return the allocations since. */
void alloc_count_begin(void);
size_t alloc_count_end(void);
/* malloc through a pointer the compiler cannot see through, to prove the
 * counter counts. */
extern void *(*volatile alloc_count_malloc)(size_t);

#endif /* RPCT_TESTS_ALLOC_COUNT_H */
