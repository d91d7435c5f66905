// Adapter and device acquisition: reports the features and limits that decide which kernel variants run,
// requests what the kernels need, and turns "no WebGPU", "limit too small" and device loss into typed
// errors. It does not allocate buffers or build pipelines (see buffer-pool.ts and pipeline-cache.ts).
import { DeviceLostError, GpuLimitError, WebGPUUnavailableError } from '../errors.ts';

/** Optional features a kernel variant may use; each is requested when the adapter has it. */
export const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;
export type OptionalFeature = (typeof OPTIONAL_FEATURES)[number];

/** Limits the engine raises to the adapter's maximum; kernels read the granted values. */
export const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;
export type RequestedLimit = (typeof REQUESTED_LIMITS)[number];

export type GpuLimits = Record<RequestedLimit, number>;

export interface GpuFeatures {
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
}

export interface GpuAdapterDescription {
  vendor: string;
  architecture: string;
  description: string;
  isFallbackAdapter: boolean;
}

export interface GpuDeviceInfo {
  adapter: GpuAdapterDescription;
  features: GpuFeatures;
  limits: GpuLimits;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Minimum values the caller needs; below them acquisition fails with GpuLimitError. */
  minimumLimits?: Partial<GpuLimits>;
  /** Ask for less than the adapter offers (to emulate small devices in tests). */
  capLimits?: Partial<GpuLimits>;
  /** Leave out optional features even when present (to force the f32 path). */
  disableFeatures?: OptionalFeature[];
  gpu?: GPU;
}

export interface AcquiredDevice {
  device: GPUDevice;
  info: GpuDeviceInfo;
}

function navigatorGpu(): GPU | undefined {
  return (globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined)?.gpu;
}

/** Requests an adapter and a device with every optional feature available and the limits raised. */
export async function acquireDevice(options: AcquireOptions = {}): Promise<AcquiredDevice> {
  const gpu = options.gpu ?? navigatorGpu();
  if (!gpu) {
    throw new WebGPUUnavailableError(
      'This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Safari, ' +
        'or enable WebGPU in the browser settings.',
    );
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(
      options.powerPreference ? { powerPreference: options.powerPreference } : undefined,
    );
  } catch (cause) {
    throw new WebGPUUnavailableError('requestAdapter() failed', { cause });
  }
  if (!adapter) {
    throw new WebGPUUnavailableError(
      'WebGPU is present but no GPU adapter is available (blocked GPU, or disabled by the browser).',
    );
  }

  const disabled = new Set(options.disableFeatures ?? []);
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f));

  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) {
    const available = adapter.limits[name];
    const cap = options.capLimits?.[name];
    requiredLimits[name] = cap === undefined ? available : Math.min(cap, available);
    const minimum = options.minimumLimits?.[name];
    if (minimum !== undefined && minimum > available) throw new GpuLimitError(name, minimum, available);
  }

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (cause) {
    throw new WebGPUUnavailableError('requestDevice() failed', { cause });
  }

  const limits = {} as GpuLimits;
  for (const name of REQUESTED_LIMITS) limits[name] = device.limits[name];
  const info = adapter.info;
  return {
    device,
    info: {
      adapter: {
        vendor: info.vendor,
        architecture: info.architecture,
        description: info.description,
        isFallbackAdapter: (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
      },
      features: {
        shaderF16: device.features.has('shader-f16'),
        subgroups: device.features.has('subgroups'),
        timestampQuery: device.features.has('timestamp-query'),
      },
      limits,
    },
  };
}

/** Reads granted limits off a device that someone else created (e.g. shared with onnxruntime-web). */
export function describeDevice(device: GPUDevice, adapter?: GpuAdapterDescription): GpuDeviceInfo {
  const limits = {} as GpuLimits;
  for (const name of REQUESTED_LIMITS) limits[name] = device.limits[name];
  return {
    adapter: adapter ?? { vendor: 'unknown', architecture: 'unknown', description: '', isFallbackAdapter: false },
    features: {
      shaderF16: device.features.has('shader-f16'),
      subgroups: device.features.has('subgroups'),
      timestampQuery: device.features.has('timestamp-query'),
    },
    limits,
  };
}

/**
 * Watches `device.lost`. A loss the engine caused itself (dispose) is not an error; any other loss makes
 * every later `assertAlive()` throw DeviceLostError, and `onLost` listeners hear about it once.
 */
export class DeviceLossWatch {
  private lost: DeviceLostError | null = null;
  private disposing = false;
  private readonly listeners = new Set<(error: DeviceLostError) => void>();

  constructor(device: GPUDevice) {
    void device.lost.then((info) => {
      if (this.disposing) return;
      this.lost = new DeviceLostError(info.reason ?? 'unknown', info.message || 'no message');
      for (const listener of this.listeners) listener(this.lost);
    });
  }

  get isLost(): boolean {
    return this.lost !== null;
  }

  assertAlive(): void {
    if (this.lost) throw this.lost;
  }

  onLost(listener: (error: DeviceLostError) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  markDisposing(): void {
    this.disposing = true;
  }
}
