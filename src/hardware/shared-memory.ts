// Shared memory whose 64-byte lines are the host's cache lines.
//
// Every placement in the layout (hardware/region.ts LINE) assumes that offset 0 of the buffer
// starts a cache line: that is how PROD, CONS, each lock word and each queue line get a line of
// their own, as the C twin's _Alignas(64) gives them. A plain SharedArrayBuffer does not keep that
// promise. V8 takes its backing store from the C allocator, and glibc serves a request above its
// mmap threshold (128 KiB at first; a 1-CPU layout is 160 KiB) from a fresh mapping with its
// 16-byte chunk header in front: the buffer starts 16 bytes into a page (seen in /proc/self/maps:
// a mapping of n + 4096 bytes per buffer), so every line of the layout straddles two of the host's
// and a line's last 16 bytes share a host line with the next line's first 48. Once a freed
// mapping has raised the threshold, the next buffer comes from the heap at any multiple of 16.
// At 1 CPU the effect on unmap times was within this host's noise (docs/performance.md, "Aligned
// shared memory"); the point is that the layout's promise holds on every host and CPU count.
//
// A shared WebAssembly.Memory is mapped by V8 itself and its buffer starts a page (its own
// mapping, between guard regions: seen in /proc/self/maps).
// Its buffer is an ordinary SharedArrayBuffer to every other module and to the workers it is posted
// to; its length is rounded up to 64 KiB pages (the regions only check that they fit). Where
// WebAssembly is not available (node --jitless), the plain buffer is the fallback.
const WASM_PAGE_BYTES = 65536;

interface SharedWasmMemory {
  readonly buffer: SharedArrayBuffer;
}
type WasmMemoryConstructor = new (d: { initial: number; maximum: number; shared: true }) => SharedWasmMemory;

const WasmMemory = (globalThis as { WebAssembly?: { Memory?: WasmMemoryConstructor } }).WebAssembly?.Memory;

/** True when sharedBuffer() returns page-aligned memory (a shared WebAssembly.Memory). */
export const SHARED_MEMORY_PAGE_ALIGNED = WasmMemory !== undefined;

/** A zeroed SharedArrayBuffer of at least `bytes` bytes whose first byte starts a page. */
export function sharedBuffer(bytes: number): SharedArrayBuffer {
  if (WasmMemory === undefined) return new SharedArrayBuffer(bytes);
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE_BYTES));
  return new WasmMemory({ initial: pages, maximum: pages, shared: true }).buffer;
}
