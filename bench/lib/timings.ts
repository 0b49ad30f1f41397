// Windows (ms), round trips, and the retry policy for noisy samples, per mode. Recorded whole in
// the results JSON (`timings`), so every section's figures can be read with the windows they had.

export interface Timings {
  efficiencyMs: number;
  efficiencyWarmupMs: number;
  pingRoundTrips: number;
  pureSyncs: number;
  handoffCommands: number;
  lockMs: number;
  lockWarmupMs: number;
  lockRounds: number;
  statsMs: number;
  statsWarmupMs: number;
  statsRounds: number;
  scalingMs: number;
  scalingWarmupMs: number;
  maxAttempts: number;
  retryBudgetMs: number;
  /** A scaling run still going this long after its budget is killed (and counted as over budget). */
  scalingKillAfterBudgetMs: number;
}

export function timings(quick: boolean): Timings {
  return quick
    ? {
        efficiencyMs: 300,
        efficiencyWarmupMs: 50,
        pingRoundTrips: 100_000,
        pureSyncs: 100_000,
        handoffCommands: 400_000,
        lockMs: 150,
        lockWarmupMs: 30,
        lockRounds: 1,
        statsMs: 300,
        statsWarmupMs: 50,
        statsRounds: 2,
        scalingMs: 300,
        scalingWarmupMs: 50,
        maxAttempts: 2,
        retryBudgetMs: 6_000,
        scalingKillAfterBudgetMs: 3_000,
      }
    : {
        efficiencyMs: 1000,
        efficiencyWarmupMs: 200,
        pingRoundTrips: 300_000,
        pureSyncs: 300_000,
        handoffCommands: 2_000_000,
        lockMs: 500,
        lockWarmupMs: 200,
        lockRounds: 2,
        statsMs: 500,
        statsWarmupMs: 200,
        statsRounds: 4,
        scalingMs: 1000,
        scalingWarmupMs: 200,
        maxAttempts: 3,
        retryBudgetMs: 180_000,
        scalingKillAfterBudgetMs: 20_000,
      };
}
