// Typed errors of the engine. Each class sets `name` and a stable `code`, so a message that crossed a
// worker boundary as {name, code, message} can be rebuilt into the same class on the other side.

export type TarErrorCode =
  | 'webgpu-unavailable'
  | 'gpu-limit'
  | 'gpu-kernel'
  | 'device-lost'
  | 'invalid-input'
  | 'invalid-argument'
  | 'invalid-manifest'
  | 'storage-quota'
  | 'download-failed'
  | 'integrity'
  | 'engine-worker';

export class TarError extends Error {
  readonly code: TarErrorCode;
  constructor(code: TarErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'TarError';
  }
}

/** The browser has no WebGPU, or it offered no adapter. */
export class WebGPUUnavailableError extends TarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('webgpu-unavailable', message, options);
    this.name = 'WebGPUUnavailableError';
  }
}

/** The adapter's limits are below what a kernel needs (`limit` names the WebGPU limit). */
export class GpuLimitError extends TarError {
  readonly limit: string;
  readonly required: number;
  readonly available: number;
  constructor(limit: string, required: number, available: number) {
    super('gpu-limit', `GPU limit ${limit} is ${available}, but ${required} is required`);
    this.name = 'GpuLimitError';
    this.limit = limit;
    this.required = required;
    this.available = available;
  }
}

/** A WGSL kernel failed to compile or to build its pipeline on this device (`kernel` names it). A command buffer
 *  that ran it did nothing, so its read-back is refused rather than returned as zeros. */
export class GpuKernelError extends TarError {
  readonly kernel: string;
  constructor(kernel: string, message: string) {
    super('gpu-kernel', `GPU kernel ${kernel} does not compile on this device: ${message}`);
    this.name = 'GpuKernelError';
    this.kernel = kernel;
  }
}

/** The GPUDevice was lost (driver reset, tab backgrounded on mobile, or destroyed). */
export class DeviceLostError extends TarError {
  readonly reason: GPUDeviceLostReason | 'unknown';
  constructor(reason: GPUDeviceLostReason | 'unknown', message: string) {
    super('device-lost', `GPU device lost (${reason}): ${message}`);
    this.name = 'DeviceLostError';
    this.reason = reason;
  }
}

/** Tensor data given to a kernel is unusable: wrong shape, empty, or not finite. */
export class InvalidInputError extends TarError {
  constructor(message: string) {
    super('invalid-input', message);
    this.name = 'InvalidInputError';
  }
}

/** A call's parameters are out of range (e.g. P + T beyond the KV cache, top-k of zero). */
export class InvalidArgumentError extends TarError {
  constructor(message: string) {
    super('invalid-argument', message);
    this.name = 'InvalidArgumentError';
  }
}

/** A model package's manifest.json breaks docs/model-format.md; `issues` lists every problem, each as
 * `<field path>: <what is wrong>` (e.g. `components.llm.config.kvHeads: expected a positive integer, got -1`). */
export class ManifestError extends TarError {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    const shown = issues.slice(0, 10).join('; ');
    const more = issues.length > 10 ? ` (and ${issues.length - 10} more)` : '';
    super('invalid-manifest', `invalid model manifest: ${shown}${more}`);
    this.name = 'ManifestError';
    this.issues = issues;
  }
}

/** The engine's worker could not start: its script failed to load or threw before the engine was ready (a
 *  stale or broken app build, a blocked script, a crash while loading). */
export class EngineWorkerError extends TarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('engine-worker', message, options);
    this.name = 'EngineWorkerError';
  }
}
