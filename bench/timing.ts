// Timing for benchmarks: warm-up runs, then the median of timed runs. Each run must await its GPU work
// (a readback or queue.onSubmittedWorkDone()) before it resolves.

export interface Timing {
  median_ms: number;
  samples_ms: number[];
}

export interface TimingOptions {
  warmup?: number;
  runs?: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export async function timeMedian(run: () => Promise<unknown>, options: TimingOptions = {}): Promise<Timing> {
  const { warmup = 1, runs = 5 } = options;
  for (let i = 0; i < warmup; i++) await run();
  const samples_ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    samples_ms.push(performance.now() - start);
  }
  return { median_ms: median(samples_ms), samples_ms };
}

/** A result row with the speedup and, when flops are given, the achieved fraction of the ceiling. */
export function benchRow(
  fields: { name: string; shape: string; ours_ms: number; baseline: string; baseline_ms: number },
  flops?: { count: number; ceilingGflops: number },
): import('./types.ts').BenchRow {
  const row: import('./types.ts').BenchRow = { ...fields, speedup: fields.baseline_ms / fields.ours_ms };
  if (flops) {
    row.ours_gflops = flops.count / (fields.ours_ms * 1e6);
    row.fraction_of_ceiling = row.ours_gflops / flops.ceilingGflops;
  }
  return row;
}
