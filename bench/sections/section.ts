// What a bench section is: a measurement with a typed result, recorded under its name in
// bench/results/<name>.json, and a renderer of that result into its part of docs/performance.md.
// Adding a section is writing one module that exports a BenchSection and listing it in index.ts.
import type { HostDescription } from '../lib/host.js';
import type { TargetRow } from '../lib/markdown.js';
import type { Retrier } from '../lib/retry.js';
import type { Timings } from '../lib/timings.js';

export interface ModeOptions {
  quick: boolean;
  /** --profile: profiles in quick mode too. */
  profile: boolean;
}

export interface RunContext {
  readonly quick: boolean;
  readonly reps: number;
  readonly timings: Timings;
  /** Shared by every section, so that the retry budget is one for the whole bench. */
  readonly retry: Retrier;
  readonly host: HostDescription;
  /** The command that built bench/build/locks ('' when no selected section needs C). */
  readonly gccCommand: string;
  /** The result of a section that ran before this one in this bench (sections run in index.ts order). */
  resultOf<R>(section: BenchSection<R>): R | undefined;
}

export interface RenderContext {
  readonly host: HostDescription;
}

export interface RenderedSection {
  /** The section's Markdown, from its heading; no trailing newline. */
  markdown: string;
  /** Its rows of the Targets table at the top of the report. */
  targets: TargetRow[];
}

export interface BenchSection<R> {
  /** The --only name and the key of the result in the results JSON. */
  readonly name: string;
  /** Needs bench/build/locks, which the driver compiles before the first section runs. */
  readonly needsC: boolean;
  /** Whether it runs when --only is not given. */
  byDefault(mode: ModeOptions): boolean;
  run(ctx: RunContext): Promise<R>;
  render(result: R, ctx: RenderContext): RenderedSection;
}
