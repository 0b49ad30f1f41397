// The virtual engine's event list: a binary min-heap ordered by (time, sequence number). The
// sequence number breaks ties by scheduling order, so two events at the same virtual nanosecond
// always run in the same order and a seed gives byte-identical results.

export type Action = () => void;

interface Entry {
  readonly t: number;
  readonly seq: number;
  readonly fn: Action;
}

export class EventHeap {
  private readonly h: Entry[] = [];
  private seq = 0;

  get size(): number {
    return this.h.length;
  }

  push(t: number, fn: Action): void {
    const h = this.h;
    const e: Entry = { t, seq: this.seq++, fn };
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = e;
  }

  /** Time of the earliest event (Infinity when empty). */
  peekTime(): number {
    return this.h.length > 0 ? this.h[0].t : Infinity;
  }

  /** Removes the earliest event and returns its action; undefined when empty. */
  pop(): Action | undefined {
    const h = this.h;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(h[r], h[l]) ? r : l;
        if (!before(h[c], last)) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top.fn;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
