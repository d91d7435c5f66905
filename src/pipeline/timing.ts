// Per-phase wall-clock timings of a job, and the progress events that carry them.
import type { Phase, PhaseTimings, ProgressEvent } from './events.ts';

export class PhaseClock {
  readonly start = performance.now();
  readonly timings: PhaseTimings = {};

  elapsed(): number {
    return performance.now() - this.start;
  }

  /** Runs `work`, adding its duration to `phase`. */
  async time<T>(phase: Phase, work: () => Promise<T>): Promise<T> {
    const begin = performance.now();
    try {
      return await work();
    } finally {
      this.timings[phase] = (this.timings[phase] ?? 0) + performance.now() - begin;
    }
  }

  progress(phase: Phase, image: number, done: number, total: number): ProgressEvent {
    return { type: 'progress', phase, image, done, total, elapsedMs: this.elapsed() };
  }
}
