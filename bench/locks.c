// The machine's side of the lock and ping-pong comparisons in bench/run-bench.ts: the same lock
// algorithms as src/concurrency/locks/ (tas, ttas with bounded exponential backoff, ticket, mcs) written
// with C11 atomics, plus glibc's pthread_spinlock_t and pthread_mutex_t, and a bare ping-pong
// between two threads. The bench compiles it with the system compiler:
//
//   gcc -O2 -pthread -o bench/build/locks bench/locks.c
//
// and runs one measurement per invocation, printing one JSON object on stdout:
//
//   locks calibrate                       iterations of the busy loop that take ~100 ns
//   locks lock <name> <ms> <csIters>      2 threads, acquire / critical section / release for ms
//   locks pingpong <roundTrips>           2 threads, A stores, B sees and stores back, A sees
//   locks handoff <commands> stream|sync  2 threads, a CPU hands 16-byte commands to an SMMU
//                                         through a 256-entry ring, PROD/CONS and a cmdq lock
//
// The critical section is the JS one (bench/workers/bench-worker.ts): a plain read-modify-write of
// a shared counter, a hand-off count (the owner word changed since this thread last held it) and
// a calibrated busy loop. Spin loops use the x86 PAUSE hint, as Linux and glibc do; JavaScript has
// no equivalent, which is one of the differences this comparison shows.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock-relax.h"

#define MAX_THREADS 2

/** The critical section's work: n iterations the compiler may not remove or merge. */
static inline uint32_t busy(long n, uint32_t x) {
  for (long i = 0; i < n; i++) {
    x = x * 31u + (uint32_t)i;
    __asm__ volatile("" : "+r"(x));
  }
  return x;
}

// ---- locks -------------------------------------------------------------------------------------

typedef struct {
  _Alignas(LINE) atomic_int word; // tas, ttas: 0 free, 1 held; ticket: serving
  _Alignas(LINE) atomic_int next; // ticket: next ticket
  _Alignas(LINE) atomic_int tail; // mcs: 1 + thread of the last node, 0 when free
  pthread_spinlock_t spin;
  pthread_mutex_t mutex;
} lock_t;

typedef struct {
  _Alignas(LINE) atomic_int locked;
  atomic_int next; // 1 + thread of the successor, 0 until it links
} mcs_node_t;

static lock_t L;
static mcs_node_t nodes[MAX_THREADS];

enum { TAS, TTAS, TICKET, MCS, PSPIN, PMUTEX };
static int algo;

static void acquire(int me, int *ticket) {
  switch (algo) {
  case TAS:
    while (atomic_exchange_explicit(&L.word, 1, memory_order_acquire) != 0) cpu_relax();
    return;
  case TTAS: {
    int backoff = 1;
    for (;;) {
      while (atomic_load_explicit(&L.word, memory_order_relaxed) != 0) cpu_relax();
      int expected = 0;
      if (atomic_compare_exchange_strong_explicit(&L.word, &expected, 1, memory_order_acquire,
                                                  memory_order_relaxed))
        return;
      for (int i = 0; i < backoff; i++) cpu_relax();
      if (backoff < 1024) backoff <<= 1;
    }
  }
  case TICKET: {
    int t = atomic_fetch_add_explicit(&L.next, 1, memory_order_relaxed);
    while (atomic_load_explicit(&L.word, memory_order_acquire) != t) cpu_relax();
    *ticket = t;
    return;
  }
  case MCS: {
    mcs_node_t *n = &nodes[me];
    atomic_store_explicit(&n->next, 0, memory_order_relaxed);
    atomic_store_explicit(&n->locked, 1, memory_order_relaxed);
    int prev = atomic_exchange_explicit(&L.tail, me + 1, memory_order_acq_rel);
    if (prev == 0) return;
    atomic_store_explicit(&nodes[prev - 1].next, me + 1, memory_order_release);
    while (atomic_load_explicit(&n->locked, memory_order_acquire) != 0) cpu_relax();
    return;
  }
  case PSPIN:
    pthread_spin_lock(&L.spin);
    return;
  case PMUTEX:
    pthread_mutex_lock(&L.mutex);
    return;
  }
}

static void release(int me, int ticket) {
  switch (algo) {
  case TAS:
  case TTAS:
    atomic_store_explicit(&L.word, 0, memory_order_release);
    return;
  case TICKET:
    atomic_store_explicit(&L.word, ticket + 1, memory_order_release);
    return;
  case MCS: {
    mcs_node_t *n = &nodes[me];
    int next = atomic_load_explicit(&n->next, memory_order_acquire);
    if (next == 0) {
      int expected = me + 1;
      if (atomic_compare_exchange_strong_explicit(&L.tail, &expected, 0, memory_order_release,
                                                  memory_order_relaxed))
        return;
      while ((next = atomic_load_explicit(&n->next, memory_order_acquire)) == 0) cpu_relax();
    }
    atomic_store_explicit(&nodes[next - 1].locked, 0, memory_order_release);
    return;
  }
  case PSPIN:
    pthread_spin_unlock(&L.spin);
    return;
  case PMUTEX:
    pthread_mutex_unlock(&L.mutex);
    return;
  }
}

// Protected data: touched only inside the critical section, on its own line.
static struct {
  _Alignas(LINE) long counter;
  int owner;
} data;

static _Alignas(LINE) atomic_int start_flag;
static _Alignas(LINE) atomic_int stop_flag;
static long cs_iters;

typedef struct {
  _Alignas(LINE) int me;
  long acquisitions;
  long handoffs;
  uint32_t sink;
} worker_t;

static void *lock_worker(void *arg) {
  worker_t *w = arg;
  int me = w->me, ticket = 0;
  long n = 0, h = 0;
  uint32_t x = (uint32_t)me;
  while (!atomic_load_explicit(&start_flag, memory_order_acquire)) cpu_relax();
  while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
    acquire(me, &ticket);
    data.counter++;
    if (data.owner != me + 1) {
      data.owner = me + 1;
      h++;
    }
    x = busy(cs_iters, x);
    release(me, ticket);
    n++;
  }
  w->acquisitions = n;
  w->handoffs = h;
  w->sink = x;
  return NULL;
}

static int lock_index(const char *name) {
  static const char *names[] = {"tas", "ttas", "ticket", "mcs", "pthread_spin", "pthread_mutex"};
  for (int i = 0; i < 6; i++)
    if (strcmp(name, names[i]) == 0) return i;
  fprintf(stderr, "locks: unknown lock '%s'\n", name);
  exit(2);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int run_lock(const char *name, long ms, long iters) {
  algo = lock_index(name);
  cs_iters = iters;
  pthread_spin_init(&L.spin, PTHREAD_PROCESS_PRIVATE);
  pthread_mutex_init(&L.mutex, NULL);
  static worker_t w[MAX_THREADS];
  pthread_t t[MAX_THREADS];
  for (int i = 0; i < MAX_THREADS; i++) {
    w[i].me = i;
    pthread_create(&t[i], NULL, lock_worker, &w[i]);
  }
  uint64_t t0 = now_ns();
  atomic_store_explicit(&start_flag, 1, memory_order_release);
  sleep_ms(ms);
  atomic_store_explicit(&stop_flag, 1, memory_order_relaxed);
  for (int i = 0; i < MAX_THREADS; i++) pthread_join(t[i], NULL);
  uint64_t t1 = now_ns();
  long acq = 0, hand = 0;
  for (int i = 0; i < MAX_THREADS; i++) {
    acq += w[i].acquisitions;
    hand += w[i].handoffs;
  }
  if (data.counter != acq) {
    fprintf(stderr, "locks: %s lost updates: counter %ld != %ld\n", name, data.counter, acq);
    return 1;
  }
  printf("{\"lock\":\"%s\",\"threads\":%d,\"ns\":%llu,\"acquisitions\":%ld,\"handoffs\":%ld,"
         "\"perThread\":[%ld,%ld]}\n",
         name, MAX_THREADS, (unsigned long long)(t1 - t0), acq, hand, w[0].acquisitions,
         w[1].acquisitions);
  return 0;
}

// ---- busy-loop calibration ---------------------------------------------------------------------

/**
 * Mean ns of one busy(iters) call, called back to back as the critical section calls it: the best
 * of 25 short samples (about 2 ms each), so that a time slice lost to another process on this
 * shared host does not inflate it.
 */
static double call_ns(long iters) {
  long calls = 2000000 / (iters + 10);
  double best = 1e9;
  uint32_t x = 1;
  for (int r = 0; r < 25; r++) {
    uint64_t t0 = now_ns();
    for (long c = 0; c < calls; c++) x = busy(iters, x);
    uint64_t t1 = now_ns();
    double per = (double)(t1 - t0) / calls;
    if (per < best) best = per;
  }
  if (x == 42) fprintf(stderr, " ");
  return best;
}

/** Iterations of busy() that take target_ns per call, from the cost of 1000-iteration calls. */
static int calibrate(double target_ns) {
  double per = call_ns(1000) / 1000;
  long iters = (long)(target_ns / per + 0.5);
  if (iters < 1) iters = 1;
  printf("{\"nsPerIter\":%.4f,\"iters\":%ld,\"csNs\":%.1f}\n", per, iters, call_ns(iters));
  return 0;
}

// ---- ping-pong ---------------------------------------------------------------------------------

static _Alignas(LINE) atomic_int ball;
static long round_trips;

static void *pong(void *arg) {
  (void)arg;
  // Wait for each odd value, answer with the next even one.
  for (long i = 0; i < round_trips; i++) {
    int want = (int)(2 * i + 1);
    while (atomic_load_explicit(&ball, memory_order_acquire) != want) cpu_relax();
    atomic_store_explicit(&ball, want + 1, memory_order_release);
  }
  return NULL;
}

static int pingpong(long n) {
  round_trips = n;
  pthread_t t;
  pthread_create(&t, NULL, pong, NULL);
  // Warm-up: a few thousand round trips not counted, so both threads are running.
  long warm = n / 10;
  uint64_t t0 = 0;
  for (long i = 0; i < n; i++) {
    if (i == warm) t0 = now_ns();
    atomic_store_explicit(&ball, (int)(2 * i + 1), memory_order_release);
    while (atomic_load_explicit(&ball, memory_order_acquire) != (int)(2 * i + 2)) cpu_relax();
  }
  uint64_t t1 = now_ns();
  pthread_join(t, NULL);
  printf("{\"roundTrips\":%ld,\"ns\":%llu,\"rtNs\":%.1f}\n", n - warm, (unsigned long long)(t1 - t0),
         (double)(t1 - t0) / (double)(n - warm));
  return 0;
}

// ---- command hand-off --------------------------------------------------------------------------
//
// What it costs on this host to hand one 16-byte SMMUv3 command from a CPU thread to an SMMU
// thread, independent of the emulator: the same protocol as the handoff-cpu / handoff-smmu jobs of
// bench/workers/bench-worker.ts (seq_cst atomics where JS uses Atomics, plain accesses where JS
// uses plain typed-array ones). Per command the CPU takes the (uncontended) cmdq lock, waits while
// the ring is full, writes the entry, publishes PROD and releases the lock; in sync mode it then
// waits for CONS to reach its PROD, one full round trip per command like a CMD_SYNC polled for.
// The SMMU re-reads PROD only when it has caught up with the one it saw, and publishes CONS when
// it catches up again or every HANDOFF_BATCH commands, whichever comes first.

#define HANDOFF_ENTRIES 256 // a power of two
#define HANDOFF_BATCH 32
// Words 1..3 of every command; word 0 is its index.
#define HANDOFF_W1 0x12u
#define HANDOFF_W2 0x1000u
#define HANDOFF_W3 0x20u

static struct {
  _Alignas(LINE) uint32_t ring[HANDOFF_ENTRIES][4];
  _Alignas(LINE) atomic_uint prod;
  _Alignas(LINE) atomic_uint cons;
  _Alignas(LINE) atomic_int lock; // test-and-test-and-set: 0 free, 1 held
  _Alignas(LINE) atomic_int stop;
} H;

typedef struct {
  uint32_t consumed;
  uint32_t sink;
  long publishes;
} smmu_result_t;

static void *handoff_smmu(void *arg) {
  smmu_result_t *r = arg;
  uint32_t cons = 0, seen = 0, published = 0, sink = 0;
  long publishes = 0;
  for (;;) {
    if (cons == seen) {
      // STOP is read before PROD: a STOP seen here means the producer's last PROD is seen too.
      for (;;) {
        int stopping = atomic_load(&H.stop);
        seen = atomic_load(&H.prod);
        if (seen != cons || stopping) break;
        cpu_relax();
      }
      if (seen == cons) break;
    }
    const uint32_t *e = H.ring[cons & (HANDOFF_ENTRIES - 1)];
    sink += e[0] + e[1] + e[2] + e[3];
    cons++;
    if (cons == seen || cons - published >= HANDOFF_BATCH) {
      atomic_store(&H.cons, cons);
      published = cons;
      publishes++;
    }
  }
  r->consumed = cons;
  r->sink = sink;
  r->publishes = publishes;
  return NULL;
}

static int handoff(long n, const char *mode) {
  int sync;
  if (strcmp(mode, "stream") == 0)
    sync = 0;
  else if (strcmp(mode, "sync") == 0)
    sync = 1;
  else {
    fprintf(stderr, "locks: unknown handoff mode '%s' (stream or sync)\n", mode);
    return 2;
  }
  static smmu_result_t r;
  pthread_t t;
  pthread_create(&t, NULL, handoff_smmu, &r);
  // Warm-up: the first tenth of the commands is not timed, so both threads are running.
  long warm = n / 10;
  uint64_t t0 = 0;
  uint32_t prod = 0;
  for (long i = 0; i < n; i++) {
    if (i == warm) t0 = now_ns();
    for (;;) {
      while (atomic_load(&H.lock) != 0) cpu_relax();
      int expected = 0;
      if (atomic_compare_exchange_strong(&H.lock, &expected, 1)) break;
    }
    while (prod - atomic_load(&H.cons) >= HANDOFF_ENTRIES) cpu_relax();
    uint32_t *e = H.ring[prod & (HANDOFF_ENTRIES - 1)];
    e[0] = (uint32_t)i;
    e[1] = HANDOFF_W1;
    e[2] = HANDOFF_W2;
    e[3] = HANDOFF_W3;
    prod++;
    atomic_store(&H.prod, prod);
    atomic_store(&H.lock, 0);
    if (sync)
      while (atomic_load(&H.cons) != prod) cpu_relax();
  }
  uint64_t t1 = now_ns();
  atomic_store(&H.stop, 1);
  pthread_join(t, NULL);
  // Every command consumed once: the count, and the sum of all words (mod 2^32).
  uint32_t want = (uint32_t)n * (HANDOFF_W1 + HANDOFF_W2 + HANDOFF_W3);
  for (long i = 0; i < n; i++) want += (uint32_t)i;
  if (r.consumed != (uint32_t)n || r.sink != want) {
    fprintf(stderr, "locks: handoff lost commands: consumed %u of %ld, sink %u != %u\n", r.consumed, n,
            r.sink, want);
    return 1;
  }
  // consPublishesPerCmd: CONS stores per command over the whole run, warm-up included (1 = the
  // SMMU caught up after every command; 1/HANDOFF_BATCH at best).
  printf("{\"mode\":\"%s\",\"commands\":%ld,\"ns\":%llu,\"nsPerCmd\":%.1f,\"consPublishesPerCmd\":%.3f}\n",
         mode, n - warm, (unsigned long long)(t1 - t0), (double)(t1 - t0) / (double)(n - warm),
         (double)r.publishes / (double)n);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "calibrate") == 0)
    return calibrate(argc >= 3 ? atof(argv[2]) : 100.0);
  if (argc >= 5 && strcmp(argv[1], "lock") == 0) return run_lock(argv[2], atol(argv[3]), atol(argv[4]));
  if (argc >= 3 && strcmp(argv[1], "pingpong") == 0) return pingpong(atol(argv[2]));
  if (argc >= 4 && strcmp(argv[1], "handoff") == 0) return handoff(atol(argv[2]), argv[3]);
  fprintf(stderr, "usage: locks calibrate [ns] | lock <name> <ms> <csIters> | pingpong <roundTrips> | "
                  "handoff <commands> stream|sync\n");
  return 2;
}
