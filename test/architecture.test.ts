// The layering rules of docs/architecture.md, checked on the import statements of the source tree:
// a newcomer can trust the folder names, and the virtual-time engine can reuse the lower layers
// without dragging the CLI or the worker scripts along.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** file -> the repository files it imports (type-only imports included: they are dependencies too). */
function importGraph(dirs: readonly string[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of dirs.flatMap(sources)) {
    const text = readFileSync(join(ROOT, f), 'utf8');
    const deps = [...text.matchAll(/^(?:import|export)\b[^'";]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms)].map((m) =>
      relative(ROOT, resolve(ROOT, dirname(f), m[1].replace(/\.js$/, '.ts'))),
    );
    g.set(f, deps);
  }
  return g;
}

const GRAPH = importGraph(['src', 'workers', 'bench']);

function violations(from: RegExp, to: RegExp): string[] {
  return [...GRAPH].flatMap(([f, deps]) =>
    from.test(f) ? deps.filter((d) => to.test(d)).map((d) => `${f} -> ${d}`) : [],
  );
}

describe('layering', () => {
  it('sees the tree (the rules below are not vacuous)', () => {
    expect(GRAPH.get('src/cli/main.ts')).toContain('src/run/invocation.ts');
    expect(GRAPH.get('src/hardware/layout.ts')?.length).toBeGreaterThan(0);
  });

  it('config/ imports no driver, workload, run, report or CLI module', () => {
    expect(violations(/^src\/config\//, /^src\/(driver|workload|run|report|cli)\//)).toEqual([]);
  });

  it('nothing in src/ imports the worker scripts', () => {
    expect(violations(/^src\//, /^workers\//)).toEqual([]);
  });

  it('only the CLI and the entry point import src/cli/; the bench runs through the library API', () => {
    expect(violations(/^(src\/(?!cli\/)|workers\/|bench\/)/, /^src\/cli\//)).toEqual([]);
  });

  it('the layout places regions without importing the modules that own them', () => {
    expect(violations(/^src\/hardware\/layout\.ts$/, /^src\/(safety|concurrency|trace|driver)\//)).toEqual(
      [],
    );
  });

  it('has no import cycles', () => {
    // Tarjan's strongly connected components; any component of more than one file is a cycle.
    let next = 0;
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string): void => {
      index.set(v, next);
      low.set(v, next++);
      stack.push(v);
      onStack.add(v);
      for (const w of GRAPH.get(v) ?? []) {
        if (!GRAPH.has(w)) continue;
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) === index.get(v)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1) cycles.push(scc.sort());
      }
    };
    for (const v of GRAPH.keys()) if (!index.has(v)) visit(v);
    expect(cycles).toEqual([]);
  });
});
