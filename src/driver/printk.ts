// The emulated driver's kernel log. Linux's arm-smmu-v3 reports a CMD_SYNC timeout or a skipped
// command with dev_err(); here such a line must reach the user through the orchestrator's warn(),
// which moves the progress bar out of the way, rather than through a worker's own stderr (which
// Node forwards on its own schedule, into the middle of the bar's line). A CPU worker therefore
// posts its lines on a BroadcastChannel named by its run; the orchestrator of that run listens.
// Outside a run (or in the main thread) a line goes straight to stderr.
import { BroadcastChannel } from 'node:worker_threads';

let channel: BroadcastChannel | null = null;

/** Called by a CPU worker at the start of each run's task: where its lines go until the next. */
export function printkTo(name: string | null): void {
  if (channel !== null) channel.close();
  channel = name === null ? null : new BroadcastChannel(name);
  // A worker must not be kept alive by its log.
  channel?.unref();
}

/** One diagnostic line, without its newline. */
export function printk(line: string): void {
  if (channel !== null) channel.postMessage(line);
  else process.stderr.write(`${line}\n`);
}
