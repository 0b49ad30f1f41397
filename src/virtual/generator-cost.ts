// What writing a protocol once, as a generator that yields at every shared-memory access, would
// cost the threads engine: one small step of the v5.4 lock-free insertion (load {prod, cons},
// cmpxchg, write two entries, flip their valid bits, owner hand-off, PROD write), uncontended on
// one thread, as a plain function and as two generator forms run by the minimal driver a threads
// engine would need. The three run interleaved in rounds so that host load hits them alike.
// Run: node dist/src/virtual/generator-cost.js [rounds]   (docs/virtual-time.md, "Design").

const LLQ = 0; // BigInt64 index
const OWNER_PROD = 16; // int32 indexes, each on a line of its own
const VALID = 32;
const PROD_REG = 48;
const ENTRIES = 64;
const OWNED = 0x80000000;
const MASK = 0x1ff; // 256 entries: index + wrap

const sab = new SharedArrayBuffer(8192);
const i32 = new Int32Array(sab);
const i64 = new BigInt64Array(sab);

function pack(prod: number, cons: number): bigint {
  return (BigInt(cons >>> 0) << 32n) | BigInt(prod >>> 0);
}

function reset(): void {
  Atomics.store(i64, LLQ, 0n);
  Atomics.store(i32, OWNER_PROD, 0);
}

/** The step as the threads engine runs it today. */
function plainStep(): void {
  const old = Atomics.load(i64, LLQ);
  const prod = Number(old & 0xffffffffn) & MASK;
  const next = (prod + 2) & MASK;
  Atomics.compareExchange(i64, LLQ, old, pack(next | OWNED, 0));
  const w = ENTRIES + (prod & 0xff) * 4;
  i32[w] = 0x12;
  i32[w + 4] = 0x46;
  Atomics.xor(i32, VALID + ((prod & 0xff) >>> 5), 3 << (prod & 31));
  while (Atomics.load(i32, OWNER_PROD) !== prod);
  Atomics.and(i64, LLQ, ~BigInt(OWNED));
  Atomics.store(i32, PROD_REG, next);
  Atomics.store(i32, OWNER_PROD, next);
  Atomics.store(i64, LLQ, pack(next, next));
}

/** Form 1: the generator does each access itself and yields after it (a pure scheduling point). */
function* yieldingStep(): Generator<number, void, unknown> {
  const old = Atomics.load(i64, LLQ);
  yield 0;
  const prod = Number(old & 0xffffffffn) & MASK;
  const next = (prod + 2) & MASK;
  Atomics.compareExchange(i64, LLQ, old, pack(next | OWNED, 0));
  yield 0;
  const w = ENTRIES + (prod & 0xff) * 4;
  i32[w] = 0x12;
  i32[w + 4] = 0x46;
  yield 0;
  Atomics.xor(i32, VALID + ((prod & 0xff) >>> 5), 3 << (prod & 31));
  yield 0;
  while (Atomics.load(i32, OWNER_PROD) !== prod) yield 0;
  yield 0;
  Atomics.and(i64, LLQ, ~BigInt(OWNED));
  yield 0;
  Atomics.store(i32, PROD_REG, next);
  yield 0;
  Atomics.store(i32, OWNER_PROD, next);
  Atomics.store(i64, LLQ, pack(next, next));
  yield 0;
}

/** Form 2: the generator yields an operation and the engine performs it (what two engines need). */
const enum Op {
  LOAD64,
  CAS64,
  STORE32,
  XOR32,
  LOAD32,
  AND64,
  STORE64,
}
interface MemOp {
  op: Op;
  idx: number;
  a: number | bigint;
  b: number | bigint;
}
const req: MemOp = { op: Op.LOAD32, idx: 0, a: 0, b: 0 };
function ask(op: Op, idx: number, a: number | bigint = 0, b: number | bigint = 0): MemOp {
  req.op = op;
  req.idx = idx;
  req.a = a;
  req.b = b;
  return req;
}
function perform(r: MemOp): number | bigint {
  switch (r.op) {
    case Op.LOAD64:
      return Atomics.load(i64, r.idx);
    case Op.CAS64:
      return Atomics.compareExchange(i64, r.idx, r.a as bigint, r.b as bigint);
    case Op.STORE32:
      i32[r.idx] = r.a as number;
      return 0;
    case Op.XOR32:
      return Atomics.xor(i32, r.idx, r.a as number);
    case Op.LOAD32:
      return Atomics.load(i32, r.idx);
    case Op.AND64:
      return Atomics.and(i64, r.idx, r.a as bigint);
    case Op.STORE64:
      return Atomics.store(i64, r.idx, r.a as bigint);
  }
}
function* requestingStep(): Generator<MemOp, void, number | bigint> {
  const old = (yield ask(Op.LOAD64, LLQ)) as bigint;
  const prod = Number(old & 0xffffffffn) & MASK;
  const next = (prod + 2) & MASK;
  yield ask(Op.CAS64, LLQ, old, pack(next | OWNED, 0));
  const w = ENTRIES + (prod & 0xff) * 4;
  yield ask(Op.STORE32, w, 0x12);
  yield ask(Op.STORE32, w + 4, 0x46);
  yield ask(Op.XOR32, VALID + ((prod & 0xff) >>> 5), 3 << (prod & 31));
  while ((yield ask(Op.LOAD32, OWNER_PROD)) !== prod);
  yield ask(Op.AND64, LLQ, ~BigInt(OWNED));
  yield ask(Op.STORE32, PROD_REG, next);
  yield ask(Op.STORE32, OWNER_PROD, next);
  yield ask(Op.STORE64, LLQ, pack(next, next));
}

function runYielding(): void {
  const g = yieldingStep();
  while (!g.next().done);
}

function runRequesting(): void {
  const g = requestingStep();
  let r = g.next();
  while (!r.done) r = g.next(perform(r.value));
}

/** ns per step of fn over n steps. */
function time(fn: () => void, n: number): number {
  reset();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / n;
}

export interface GeneratorCost {
  readonly plainNs: number;
  readonly yieldingNs: number;
  readonly requestingNs: number;
}

/** Medians over `rounds` interleaved rounds of `n` steps each. */
export function measureGeneratorCost(rounds = 15, n = 200_000): GeneratorCost {
  const forms = [plainStep, runYielding, runRequesting];
  for (const f of forms) time(f, n); // warm up: let the JIT settle on each
  const samples: number[][] = [[], [], []];
  for (let r = 0; r < rounds; r++) forms.forEach((f, i) => samples[i].push(time(f, n)));
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[xs.length >> 1];
  return { plainNs: median(samples[0]), yieldingNs: median(samples[1]), requestingNs: median(samples[2]) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const c = measureGeneratorCost(Number(process.argv[2] ?? 15));
  const f = (x: number): string => `${x.toFixed(1)} ns`;
  console.log(
    `plain ${f(c.plainNs)}  generator (yield points) ${f(c.yieldingNs)} ` +
      `(x${(c.yieldingNs / c.plainNs).toFixed(2)})  generator (yielded ops) ${f(c.requestingNs)} ` +
      `(x${(c.requestingNs / c.plainNs).toFixed(2)})`,
  );
}
