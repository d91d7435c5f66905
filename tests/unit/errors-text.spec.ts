// explainError (src/ui/errors-text.ts): each engine error class, thrown here or revived after crossing the
// worker boundary, becomes a plain-words title and an action; formatBytes prints sizes as people read them.
import { expect, test } from '@playwright/test';
import { EngineWorkerError, GpuLimitError, ManifestError, WebGPUUnavailableError } from '../../src/errors.ts';
import { ModelSourceError } from '../../src/model/source.ts';
import { DownloadError, StorageQuotaError } from '../../src/storage/errors.ts';
import { explainError, formatBytes, isAbort } from '../../src/ui/errors-text.ts';
import { reviveError, serializeError } from '../../src/worker/errors.ts';

const acrossWorker = (error: unknown) => reviveError(serializeError(error));

test('engine errors read as plain words with what to do, also after crossing the worker boundary', () => {
  for (const wrap of [(e: unknown) => e, acrossWorker]) {
    expect(explainError(wrap(new WebGPUUnavailableError('navigator.gpu is undefined'))).title).toMatch(/^This browser has no WebGPU/);
    const quota = explainError(wrap(new StorageQuotaError(2_500_000_000, 300_000_000)));
    expect(quota.title).toBe('There is not enough storage space to keep the model. It needs 2.50 GB; 300 MB is free.');
    expect(quota.action).toMatch(/Free some disk space/);
    for (const bad of [new ManifestError(['format: expected "tar-webgpu"']), new ModelSourceError('"llm/model.onnx" is not listed')]) {
      const text = explainError(wrap(bad));
      expect(text.title).toBe('This is not a Tar model package.');
      expect(text.action).toMatch(/manifest\.json/);
      expect(text.detail).toBe(bad.message);
    }
    expect(explainError(wrap(new DownloadError('manifest.json', 'HTTP 404', { status: 404 }))).title).toBe(
      'No Tar model package was found at that address (nothing found there: HTTP 404).',
    );
    expect(explainError(wrap(new DownloadError('llm/model.onnx_data', 'HTTP 503', { status: 503 }))).title).toBe(
      'A model file could not be downloaded (HTTP 503).',
    );
    expect(explainError(wrap(new GpuLimitError('maxBufferSize', 2 ** 31, 2 ** 28))).title).toMatch(/too small/);
    const workerError = new EngineWorkerError('the engine worker could not start: its script did not load');
    const worker = explainError(wrap(workerError));
    expect(worker.title).toBe('The engine could not start in the background.');
    expect(worker.action).toMatch(/^Reload the page/);
    expect(worker.detail).toMatch(/script did not load/);
  }
  expect(explainError(new TypeError('Failed to fetch')).title).toBe('That address could not be reached.');
  expect(explainError('boom')).toEqual({ title: 'Something went wrong.', action: expect.stringMatching(/Reload/), detail: 'boom' });
  expect(isAbort(acrossWorker(new DOMException('stopped', 'AbortError')))).toBe(true);
  expect(isAbort(new Error('x'))).toBe(false);
});

test('formatBytes', () => {
  expect([0, 999, 1000, 15_300, 2_500_000, 123_456_789, 2.31e9].map(formatBytes)).toEqual(['0 B', '999 B', '1.00 kB', '15.3 kB', '2.50 MB', '123 MB', '2.31 GB']);
});
