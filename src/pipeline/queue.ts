// The job queue: jobs run one at a time in submission order (they share one GPU). A job cancelled while
// waiting never starts; a running job that is cancelled stops within one token and the next one starts.
// Inside one job, work may still overlap (an imagine job pipelines the LLM and the de-tokenizer).
import { abortError } from './abort.ts';

export class JobQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  /** Jobs submitted and not finished (running or waiting). */
  get size(): number {
    return this.pending;
  }

  /** Runs `job` after every job submitted before it; rejects without running it when `signal` aborts
   *  first. */
  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    this.pending++;
    const previous = this.tail;
    const result = previous.then(() => {
      if (signal?.aborted) throw abortError(signal.reason);
      return job();
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result.finally(() => {
      this.pending--;
    });
  }
}
