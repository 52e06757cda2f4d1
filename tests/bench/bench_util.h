/*
 * Helpers shared by the benchmark programs (header-only: each program is
 * one source file plus this).
 *
 * Another thread's CPU time, read from outside it: Linux gives every thread
 * a CPU-time clock whose id is built from its kernel thread id, the
 * encoding glibc's pthread_getcpuclockid uses
 * (clockid = ~tid << 3 | CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED), so a
 * thread we did not create (the batch processor's export thread) can be
 * timed with nanosecond resolution instead of the clock ticks of
 * /proc/self/task/<tid>/stat. The thread is found by the name it gives
 * itself (pthread_setname_np), in /proc/self/task/<tid>/comm.
 *
 * Latency histogram: log-linear buckets, 16 per power of two (a bucket is
 * at most 1/16 = 6.25 % wide), exact below 16 ns, up to 2^36 ns (68 s).
 */
#ifndef RPCT_BENCH_UTIL_H
#define RPCT_BENCH_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* ---- another thread's CPU time ---- */

/* The kernel thread id of this process's first thread named `name`, or -1. */
static inline pid_t bench_find_thread(const char *name) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  pid_t found = -1;
  struct dirent *e;
  while (found < 0 && (e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char path[300], comm[32] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = '\0';
    fclose(f);
    if (strcmp(comm, name) == 0) found = (pid_t)atoi(e->d_name);
  }
  closedir(d);
  return found;
}

/* CPU time in seconds that thread `tid` of this process has used, or -1. */
static inline double bench_thread_cpu_s(pid_t tid) {
  if (tid <= 0) return -1;
  clockid_t id = (clockid_t)((~(unsigned)tid << 3) | 4u /* per thread */ | 2u /* sched */);
  struct timespec ts;
  if (clock_gettime(id, &ts) != 0) return -1;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- latency histogram ---- */

#define BENCH_HIST_SUB 16
#define BENCH_HIST_MAX_EXP 36
#define BENCH_HIST_BUCKETS (BENCH_HIST_SUB + (BENCH_HIST_MAX_EXP - 4) * BENCH_HIST_SUB)

static inline int bench_hist_index(uint64_t ns) {
  if (ns < BENCH_HIST_SUB) return (int)ns;
  int e = 63 - __builtin_clzll(ns); /* >= 4 */
  if (e >= BENCH_HIST_MAX_EXP) return BENCH_HIST_BUCKETS - 1;
  int mant = (int)(ns >> (e - 4)) - BENCH_HIST_SUB;
  return BENCH_HIST_SUB + (e - 4) * BENCH_HIST_SUB + mant;
}

/* The smallest value of bucket `i`; bucket i holds [low(i), low(i + 1)). */
static inline uint64_t bench_hist_low(int i) {
  if (i < BENCH_HIST_SUB) return (uint64_t)i;
  int e = 4 + (i - BENCH_HIST_SUB) / BENCH_HIST_SUB, mant = (i - BENCH_HIST_SUB) % BENCH_HIST_SUB;
  return (uint64_t)(BENCH_HIST_SUB + mant) << (e - 4);
}

/* The value below which a fraction `q` of the counts lie (the middle of the
 * bucket where the q-th count falls), in ns; 0 for an empty histogram. */
static inline double bench_hist_quantile(const uint64_t *h, double q) {
  uint64_t total = 0;
  for (int i = 0; i < BENCH_HIST_BUCKETS; i++) total += h[i];
  if (!total) return 0;
  uint64_t rank = (uint64_t)(q * (double)total), seen = 0;
  if (rank >= total) rank = total - 1;
  for (int i = 0; i < BENCH_HIST_BUCKETS; i++) {
    seen += h[i];
    if (seen > rank) return ((double)bench_hist_low(i) + (double)bench_hist_low(i + 1)) / 2;
  }
  return 0;
}

#endif /* RPCT_BENCH_UTIL_H */
