// The C twin of the emulator at one CPU: the same 2017 arm-smmu-v3 command-queue protocol, with no
// emulator around it, so that the bench can say how much of a measured unmap is the emulator's own
// cost (bench/sections/twin.ts runs it side by side with `node dist/run.js --cpus 1 --lock ttas
// --wait spin --sync-mode poll`).
//
//   gcc -O2 -pthread -Wall -o bench/build/twin bench/twin.c
//   twin per-page|batched <pages> <tlbiNs> <syncNs> <warmupMs> <ms>
//   twin floor <trials>
//
// prints one JSON object: unmaps in the window, the mean and the median time inside iommu_unmap;
// or, for `floor`, what each side's own code costs alone in one thread (floor_main() below).
//
// CPU thread, per unmap of <pages> pages (iommu_unmap, src/driver/iommu.ts): clear each PTE (a
// plain 64-bit store, as io-pgtable-arm's __arm_lpae_clear_pte on a coherent walker) and issue its
// TLBI_NH_VA; per-page issues a CMD_SYNC after each page, batched one after the last. Every command
// is one round trip of the cmdq lock (test-and-test-and-set, as src/concurrency/locks/ttas.ts), inside
// which the CPU reserves a slot (refreshing CONS from the register only when the shadow says the
// queue is full), writes the 16-byte entry, advances the shadow prod and writes CMDQ_PROD. A
// CMD_SYNC in poll mode is waited for under the lock until CONS shows the queue drained
// (arm_smmu_cmdq_issue_sync / __arm_smmu_sync_poll_cons, 2017). Between unmaps it remaps the PTEs;
// the IOVA allocation, map and DMA of the emulator's loop are outside the timed window there too.
//
// SMMU thread (src/hardware/smmu-engine.ts run()): re-reads PROD only once caught up, looking at
// the doorbell IDLE_FAST_POLLS times before going idle; spends each command's modelled latency
// busy-waiting on the clock, with the engine's modelled time (src/hardware/model-time.ts): the
// commands a PROD read reveals start no earlier than that read, each completes its latency after
// the previous one, and the clock is read only when the last reading does not show that completion;
// copies up to 32 revealed entries at the PROD read that revealed them (the engine's fetch buffer);
// when a command is the last one seen, looks at the doorbell once after its latency (what that
// read reveals starts from it); publishes CONS after a CMD_SYNC, when caught up after one more look
// at the doorbell (dated too), or every 1/8 of the queue, with a release store (no fence: nobody
// parks). It keeps no IOTLB: the
// emulator's invalidation is its own cost (the IOTLB set's line was last written by the device's
// translation on the CPU thread), which the engine holds back into the next latency that is not a
// TLBI's (docs/performance.md, issue 12).
//
// Encodings (../shared/reference/smmuv3-facts.md): TLBI_NH_VA opcode 0x12, ASID w0[63:48], ADDR
// w1[63:12], LEAF w1[0]; a polled CMD_SYNC as Linux 6.1 writes it, dword 0 0x0fc02046.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// A hand-off as the emulator makes it in this configuration (src/concurrency/wait.ts handOff: a run
// whose every wait spins has no parker to handshake with): a release store, no fence after it, as
// Linux's spin_unlock() and its writel() of CMDQ_PROD. On x86-64 a plain MOV. Both sides of the
// comparison store the same way: the lock release, CMDQ_PROD and CMDQ_CONS.
#define store_rel(p, v) atomic_store_explicit((p), (v), memory_order_release)

#include "clock-relax.h"

#define Q_SHIFT 8 // 256 entries, the emulator's default --queue-entries
#define Q_ENTRIES (1u << Q_SHIFT)
#define Q_IDX(p) ((p) & (Q_ENTRIES - 1))
#define Q_WRAP_MASK ((Q_ENTRIES << 1) - 1)
#define IDLE_FAST_POLLS 256
#define OP_TLBI_NH_VA 0x12u
#define OP_CMD_SYNC 0x46u
#define CMD_SYNC_W0 0x0fc02046u
#define ASID 1u
#define VA_BASE_PAGE 0x100u
#define MAX_PAGES 4096

/** The clock as a signed count, so that -1 can mean "idle" in the SMMU's modelled time. */
static inline int64_t now(void) { return (int64_t)now_ns(); }

static struct {
  _Alignas(LINE) uint32_t ring[Q_ENTRIES][4];
  _Alignas(LINE) atomic_uint prod; // CMDQ_PROD
  _Alignas(LINE) atomic_uint cons; // CMDQ_CONS
  _Alignas(LINE) atomic_int lock;  // cmdq lock: 0 free, 1 held
  _Alignas(LINE) atomic_int stop;
  // The driver's shadow of the queue (cmdq->q.llq), touched only under the lock.
  _Alignas(LINE) uint32_t llq_prod;
  uint32_t llq_cons;
  _Alignas(LINE) _Atomic uint64_t pte[MAX_PAGES];
} Q;

static int64_t tlbi_ns, sync_ns;

// ---- SMMU ---------------------------------------------------------------------------------------

typedef struct {
  uint64_t consumed;
  uint32_t sink;
} smmu_result_t;

static inline int q_empty(uint32_t prod, uint32_t cons) { return ((prod ^ cons) & Q_WRAP_MASK) == 0; }

// The SMMU's modelled time, as src/hardware/model-time.ts: `due` the modelled completion of the
// last command, `seen` the clock's latest reading, `revealed_at` the reading that dates a PROD
// read made after the commands seen that revealed more (sampleRevealed()).
static int64_t due = -1, seen = -1, revealed_at = -1;

/** A PROD read revealed commands: they arrived no later than now, so none starts earlier. */
static inline void arrive(void) {
  if (tlbi_ns <= 0 && sync_ns <= 0) return;
  seen = now();
  if (seen > due) due = seen;
}

/** The next command completes lat after the previous one; returns once the clock shows it. */
static inline void advance(int64_t lat) {
  if (lat <= 0) return;
  due += lat;
  while (seen < due) seen = now();
}

#define FETCH_AHEAD 32

static void *smmu(void *arg) {
  smmu_result_t *r = arg;
  uint32_t cons = 0, prod = 0, sink = 0, since_wake = 0;
  const uint32_t wake_every = Q_ENTRIES >> 3;
  uint64_t consumed = 0;
  const int timed = tlbi_ns > 0 || sync_ns > 0;
  int revealed = 0, dated = 0; // a PROD read after the commands seen revealed more (dated: timed)
  // The fetch buffer (the engine's fetchAhead()): revealed commands copied at the PROD read that
  // revealed them, FETCH_AHEAD at most from CONS on; `ahead` of them from CONS on are there.
  static uint32_t fetched[FETCH_AHEAD][4]; // a ring: queue index mod FETCH_AHEAD
  uint32_t ahead = 0;
  for (;;) {
    int refreshed = revealed;
    revealed = 0;
    if (q_empty(prod, cons)) {
      refreshed = 1;
      prod = atomic_load(&Q.prod);
      for (int i = 0; i < IDLE_FAST_POLLS && q_empty(prod, cons); i++) {
        sink += Q.ring[Q_IDX(cons)][0];
        prod = atomic_load(&Q.prod);
      }
      while (q_empty(prod, cons)) { // idle
        if (atomic_load(&Q.stop)) goto out;
        cpu_relax();
        prod = atomic_load(&Q.prod);
      }
    }
    if (refreshed || ahead == 0) {
      if (refreshed) {
        if (dated) {
          if (revealed_at > due) due = revealed_at;
        } else
          arrive();
        dated = 0;
      }
      uint32_t depth = (prod - cons) & Q_WRAP_MASK, n = depth < FETCH_AHEAD ? depth : FETCH_AHEAD;
      for (uint32_t i = ahead, c = (cons + ahead) & Q_WRAP_MASK; i < n; i++, c = (c + 1) & Q_WRAP_MASK)
        memcpy(fetched[c & (FETCH_AHEAD - 1)], Q.ring[Q_IDX(c)], 16);
      if (n > ahead) ahead = n;
      __asm__ __volatile__("" ::: "memory"); // copied at the read, not sunk past the latency
    }
    ahead--;
    const uint32_t *e = fetched[cons & (FETCH_AHEAD - 1)];
    const uint32_t w0 = e[0], w1 = e[1], w2 = e[2], w3 = e[3];
    uint32_t op = w0 & 0xff;
    advance(op == OP_CMD_SYNC ? sync_ns : tlbi_ns);
    // The last command seen: one look at the doorbell once its latency is spent (dated).
    if (((cons + 1) & Q_WRAP_MASK) == prod) {
      uint32_t raw = atomic_load(&Q.prod);
      if (raw != prod) {
        if (timed) revealed_at = seen = now();
        prod = raw;
        revealed = 1;
        dated = timed;
      }
    }
    sink += w0 + w1 + w2 + w3;
    consumed++;
    cons = (cons + 1) & Q_WRAP_MASK;
    int publish = op == OP_CMD_SYNC || ++since_wake >= wake_every;
    if (!publish && cons == prod) { // caught up: one more look at the doorbell first (dated)
      prod = atomic_load(&Q.prod);
      if (q_empty(prod, cons))
        publish = 1;
      else {
        if (timed) revealed_at = seen = now();
        revealed = 1;
        dated = timed;
      }
    }
    if (publish) {
      since_wake = 0;
      store_rel(&Q.cons, cons);
    }
  }
out:
  r->consumed = consumed;
  r->sink = sink;
  return NULL;
}

// ---- CPU: the driver -----------------------------------------------------------------------------

static inline void lock(void) {
  for (;;) {
    while (atomic_load(&Q.lock) != 0) cpu_relax();
    int expected = 0;
    if (atomic_compare_exchange_strong(&Q.lock, &expected, 1)) return;
  }
}

static inline void unlock(void) { store_rel(&Q.lock, 0); }

static inline int has_space(uint32_t prod, uint32_t cons) {
  return Q_ENTRIES - ((prod - cons) & Q_WRAP_MASK) >= 1;
}

/** Under the lock: a free slot's entry, waiting for CONS (still under the lock) when full. */
static inline uint32_t *reserve(void) {
  if (!has_space(Q.llq_prod, Q.llq_cons)) {
    uint32_t cons = atomic_load(&Q.cons);
    while (!has_space(Q.llq_prod, cons)) {
      cpu_relax();
      cons = atomic_load(&Q.cons);
    }
    Q.llq_cons = cons;
  }
  return Q.ring[Q_IDX(Q.llq_prod)];
}

/** Under the lock: advance the shadow prod and write CMDQ_PROD. */
static inline uint32_t publish(void) {
  Q.llq_prod = (Q.llq_prod + 1) & Q_WRAP_MASK;
  store_rel(&Q.prod, Q.llq_prod);
  return Q.llq_prod;
}

static inline void issue_tlbi_nh_va(uint64_t va_page) {
  uint64_t addr = va_page << 12;
  lock();
  uint32_t *e = reserve();
  e[0] = OP_TLBI_NH_VA;
  e[1] = ASID << 16;
  e[2] = (uint32_t)(addr & 0xfffff000u) | 1u; // LEAF
  e[3] = (uint32_t)(addr >> 32);
  publish();
  unlock();
}

static inline void issue_sync_poll(void) {
  lock();
  uint32_t *e = reserve();
  e[0] = CMD_SYNC_W0;
  e[1] = 0;
  e[2] = 0;
  e[3] = 0;
  uint32_t prod = publish();
  uint32_t cons = atomic_load(&Q.cons);
  while (!q_empty(prod, cons)) {
    cpu_relax();
    cons = atomic_load(&Q.cons);
  }
  Q.llq_cons = cons;
  unlock();
}

static void iommu_unmap(uint64_t va_page, int pages, int per_page) {
  for (int i = 0; i < pages; i++) {
    atomic_store_explicit(&Q.pte[i], 0, memory_order_relaxed);
    issue_tlbi_nh_va(va_page + i);
    if (per_page) issue_sync_poll();
  }
  if (!per_page) issue_sync_poll();
}

static void iommu_map(int pages, uint64_t ppn) {
  for (int i = 0; i < pages; i++) atomic_store_explicit(&Q.pte[i], ppn + i + 1, memory_order_release);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

// ---- The floor: each side's code alone, in one thread --------------------------------------------
//
// What the bench compares with the emulator's rigs (bench/lib/floor.ts): the CPU's locked issue path
// (the functions above, 16 TLBI_NH_VA per round with CONS moved up by hand after each round, as
// src/run/calibrate/rigs.ts cpuRig()), the SMMU loop consuming a queue that holds rounds of 16
// TLBI_NH_VA + CMD_SYNC with every latency 0 (smmuRig()), less the idle polls each pass of it
// ends with, and one clock read. The minimum over the trials: a trial the host preempts can only
// be slower.

static double floor_issue(int trials, int pages) {
  double best = 1e30;
  for (int t = 0; t < trials; t++) {
    const int64_t t0 = now();
    for (int u = 0; u < 2000; u++) {
      for (int p = 0; p < pages; p++) issue_tlbi_nh_va(VA_BASE_PAGE + p);
      store_rel(&Q.cons, Q.llq_prod);
    }
    const double ns = (double)(now() - t0) / (2000.0 * pages);
    if (ns < best) best = ns;
  }
  return best;
}

/** 100 calls of smmu() over a queue holding `prod` commands; -1 if one consumed another count. */
static double consume_calls(uint32_t prod) {
  static smmu_result_t r;
  uint32_t sink = 0;
  atomic_store(&Q.prod, prod);
  const int64_t t0 = now();
  for (int k = 0; k < 100; k++) {
    smmu(&r);
    if (r.consumed != prod) return -1;
    sink += r.sink;
  }
  const int64_t t = now() - t0;
  return sink == 1 ? -1 : (double)t; // reads sink, so that the copies are not optimised away
}

/** The SMMU loop per command at latency 0. Each call of smmu() ends with its idle polls (it leaves
 *  at the stop flag once caught up): their time, measured over an empty queue, is subtracted. */
static double floor_consume(int trials, int pages) {
  const uint32_t per = pages + 1, n = ((Q_ENTRIES - 1) / per) * per;
  for (uint32_t c = 0; c < n; c++) {
    uint32_t *e = Q.ring[Q_IDX(c)];
    if (c % per == (uint32_t)pages) {
      e[0] = CMD_SYNC_W0;
      e[1] = e[2] = e[3] = 0;
    } else {
      const uint64_t addr = (uint64_t)(VA_BASE_PAGE + c % per) << 12;
      e[0] = OP_TLBI_NH_VA;
      e[1] = ASID << 16;
      e[2] = (uint32_t)(addr & 0xfffff000u) | 1u;
      e[3] = (uint32_t)(addr >> 32);
    }
  }
  tlbi_ns = sync_ns = 0;
  atomic_store(&Q.stop, 1); // smmu() leaves once it has consumed what is there and found no more
  double full = 1e30, empty = 1e30;
  for (int t = 0; t < trials; t++) {
    const double f = consume_calls(n), e = consume_calls(0);
    if (f < 0 || e < 0) return -1;
    if (f < full) full = f;
    if (e < empty) empty = e;
  }
  return (full - empty) / (100.0 * n);
}

static double floor_clock(int trials) {
  double best = 1e30;
  for (int t = 0; t < trials; t++) {
    const int64_t t0 = now();
    int64_t x = 0;
    for (int i = 0; i < 100000; i++) x += now();
    const double ns = (double)(now() - t0) / 100000.0;
    if (ns < best && x != 0) best = ns;
  }
  return best;
}

static int floor_main(int trials) {
  if (trials < 1) {
    fprintf(stderr, "twin: bad argument\n");
    return 2;
  }
  const int pages = 16;
  const double issue = floor_issue(trials, pages);
  const double consume = floor_consume(trials, pages);
  const double clock = floor_clock(trials);
  if (consume < 0) {
    fprintf(stderr, "twin: floor: the SMMU loop did not consume the commands queued\n");
    return 1;
  }
  printf("{\"issueNsPerCommand\":%.2f,\"consumeNsPerCommand\":%.2f,\"clockNs\":%.2f}\n", issue, consume,
         clock);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "floor") == 0) return floor_main(atoi(argv[2]));
  if (argc != 7 || (strcmp(argv[1], "per-page") != 0 && strcmp(argv[1], "batched") != 0)) {
    fprintf(stderr, "usage: twin per-page|batched <pages> <tlbiNs> <syncNs> <warmupMs> <ms> | floor <trials>\n");
    return 2;
  }
  int per_page = strcmp(argv[1], "per-page") == 0;
  int pages = atoi(argv[2]);
  tlbi_ns = atoll(argv[3]);
  sync_ns = atoll(argv[4]);
  int64_t warmup = atoll(argv[5]) * 1000000ll, window = atoll(argv[6]) * 1000000ll;
  if (pages < 1 || pages > MAX_PAGES || tlbi_ns < 0 || sync_ns < 0 || warmup < 0 || window <= 0) {
    fprintf(stderr, "twin: bad argument\n");
    return 2;
  }
  static smmu_result_t r;
  pthread_t t;
  pthread_create(&t, NULL, smmu, &r);
  const int64_t start = now(), measure = start + warmup, end = measure + window;
  uint64_t unmaps = 0, ppn = 0, cap = 1 << 16;
  int64_t total = 0, t1 = start;
  // Every measured unmap's time, for the median: robust where a loaded host preempts a spinner.
  int64_t *times = malloc(cap * sizeof *times);
  if (times == NULL) return 1;
  while (t1 < end) {
    iommu_map(pages, ppn);
    ppn = (ppn + pages) & 0xfffff;
    int64_t t0 = now();
    iommu_unmap(VA_BASE_PAGE, pages, per_page);
    t1 = now();
    if (t0 >= measure) {
      if (unmaps == cap && (times = realloc(times, (cap *= 2) * sizeof *times)) == NULL) return 1;
      times[unmaps++] = t1 - t0;
      total += t1 - t0;
    }
  }
  atomic_store(&Q.stop, 1);
  pthread_join(t, NULL);
  uint64_t per_unmap = per_page ? 2ull * pages : pages + 1ull;
  if (r.consumed % per_unmap != 0) {
    fprintf(stderr, "twin: the SMMU consumed %llu commands, not a multiple of %llu\n",
            (unsigned long long)r.consumed, (unsigned long long)per_unmap);
    return 1;
  }
  qsort(times, unmaps, sizeof *times, cmp_i64);
  printf("{\"strategy\":\"%s\",\"pages\":%d,\"tlbiNs\":%lld,\"syncNs\":%lld,\"unmaps\":%llu,"
         "\"commandsPerUnmap\":%llu,\"meanUnmapNs\":%.1f,\"p50UnmapNs\":%lld}\n",
         argv[1], pages, (long long)tlbi_ns, (long long)sync_ns, (unsigned long long)unmaps,
         (unsigned long long)per_unmap, unmaps > 0 ? (double)total / (double)unmaps : 0.0,
         unmaps > 0 ? (long long)times[(unmaps - 1) / 2] : 0ll);
  free(times);
  return 0;
}
