// Compiled compute pipelines, cached by kernel and specialisation (see kernel.ts for the key). One
// pipeline serves every shape, since shapes are uniforms. Set `PipelineCache.printSource` to dump WGSL.
// Creation is synchronous, so a kernel that fails to compile would only raise an uncaptured device error and
// leave every command buffer that runs it doing nothing: each creation is wrapped in a validation error scope,
// `settle()` (awaited before every read-back, GpuContext.mapStaging) throws GpuKernelError for a failure found
// since, and a kernel known to fail throws at once when asked for again.
import { GpuKernelError } from '../errors.ts';
import {
  specialisationKey,
  specialiseSource,
  uniformLayoutOf,
  type CompiledKernel,
  type KernelDefinition,
  type Specialisation,
} from './kernel.ts';

export class PipelineCache {
  /** Debug flag: log the specialised WGSL of every pipeline as it is compiled. */
  static printSource = false;

  private readonly cache = new Map<string, CompiledKernel>();
  /** Kernels whose creation failed, by key: their error message. */
  private readonly failed = new Map<string, { kernel: string; message: string }>();
  /** Creation checks not yet settled. */
  private checks: Promise<void>[] = [];

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.cache.size;
  }

  get(kernel: KernelDefinition, spec: Specialisation = {}): CompiledKernel {
    const key = specialisationKey(kernel, spec);
    const known = this.failed.get(key);
    if (known) throw new GpuKernelError(known.kernel, known.message);
    const cached = this.cache.get(key);
    if (cached) return cached;
    const code = specialiseSource(kernel, spec);
    if (PipelineCache.printSource) console.debug(`[wgsl] ${key}\n${code}`);
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: kernel.name });
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: 'auto',
      compute: { module, entryPoint: kernel.entryPoint, constants: spec.constants ?? {} },
    });
    this.checks.push(
      this.device.popErrorScope().then(
        (error) => {
          if (!error) return;
          this.failed.set(key, { kernel: kernel.name, message: error.message });
          this.cache.delete(key);
        },
        () => undefined, // the device was lost: DeviceLossWatch reports that
      ),
    );
    const compiled: CompiledKernel = { pipeline, uniforms: uniformLayoutOf(kernel), key };
    this.cache.set(key, compiled);
    return compiled;
  }

  /** Waits for the creation checks made since the last call; GpuKernelError if one of them failed. */
  async settle(): Promise<void> {
    if (this.checks.length === 0) return;
    const before = new Set(this.failed.keys());
    const checks = this.checks;
    this.checks = [];
    await Promise.all(checks);
    const fresh = [...this.failed].find(([key]) => !before.has(key));
    if (fresh) throw new GpuKernelError(fresh[1].kernel, fresh[1].message);
  }
}
