// Errors across the worker boundary keep their class: the worker sends {name, message, code, stack, own
// fields}; the page rebuilds an instance of the same class (so `instanceof GpuLimitError` and `error.code`
// work in the page), an AbortError DOMException stays one.
import * as Comlink from 'comlink';
import {
  DeviceLostError,
  EngineWorkerError,
  GpuKernelError,
  GpuLimitError,
  InvalidArgumentError,
  InvalidInputError,
  ManifestError,
  TarError,
  WebGPUUnavailableError,
} from '../errors.ts';
import { ModelSourceError } from '../model/source.ts';
import { DownloadError, IntegrityError, StorageQuotaError } from '../storage/errors.ts';
import { TokenizerError } from '../tokenizer/tokenizer-json.ts';

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
}

const CLASSES: Record<string, { prototype: object }> = {
  TarError,
  WebGPUUnavailableError,
  GpuLimitError,
  GpuKernelError,
  DeviceLostError,
  EngineWorkerError,
  InvalidInputError,
  InvalidArgumentError,
  ManifestError,
  ModelSourceError,
  TokenizerError,
  StorageQuotaError,
  DownloadError,
  IntegrityError,
};

/** Other modules' error classes (manifest, storage, ...) register here to cross the boundary by class. */
export function registerErrorClass(name: string, errorClass: { prototype: object }): void {
  CLASSES[name] = errorClass;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error || error instanceof DOMException) {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(error)) {
      if (typeof value !== 'function' && typeof value !== 'object') fields[key] = value;
    }
    const serialized: SerializedError = { name: error.name, message: error.message, fields };
    if (error.stack) serialized.stack = error.stack;
    return serialized;
  }
  return { name: 'Error', message: String(error), fields: {} };
}

export function reviveError(s: SerializedError): Error {
  if (s.name === 'AbortError') return new DOMException(s.message, 'AbortError');
  const errorClass = CLASSES[s.name];
  const error = (errorClass ? Object.create(errorClass.prototype) : new Error(s.message)) as Error;
  Object.assign(error, s.fields);
  Object.defineProperties(error, {
    name: { value: s.name, writable: true, configurable: true },
    message: { value: s.message, writable: true, configurable: true },
    stack: { value: s.stack ?? `${s.name}: ${s.message}`, writable: true, configurable: true },
  });
  return error;
}

/** Installs the Comlink "throw" handler that carries errors this way; call in the worker and the page. It
 *  keeps Comlink's own test for "this value is a thrown error" and replaces only the encoding. */
export function installErrorTransfer(): void {
  const original = Comlink.transferHandlers.get('throw');
  if (!original) throw new Error('comlink has no "throw" transfer handler');
  const handler: Comlink.TransferHandler<{ value: unknown }, SerializedError> = {
    canHandle: (value: unknown): value is { value: unknown } => original.canHandle(value),
    serialize: ({ value }) => [serializeError(value), []],
    deserialize: (serialized) => {
      throw reviveError(serialized);
    },
  };
  Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
}
