// Shared by bench/locks.c and bench/twin.c: the spin-loop hint (PAUSE on x86, as Linux's
// cpu_relax and glibc's spin locks use; YIELD on arm64) and the monotonic clock in ns.
#ifndef BENCH_CLOCK_RELAX_H
#define BENCH_CLOCK_RELAX_H
#include <stdint.h>
#include <time.h>

#define LINE 64

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield" ::: "memory");
#endif
}

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
#endif
