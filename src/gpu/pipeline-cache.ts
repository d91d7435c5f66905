// Compiled compute pipelines, cached by kernel and specialisation (see kernel.ts for the key). One
// pipeline serves every shape, since shapes are uniforms. Set `PipelineCache.printSource` to dump WGSL.
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

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.cache.size;
  }

  get(kernel: KernelDefinition, spec: Specialisation = {}): CompiledKernel {
    const key = specialisationKey(kernel, spec);
    const cached = this.cache.get(key);
    if (cached) return cached;
    const code = specialiseSource(kernel, spec);
    if (PipelineCache.printSource) console.debug(`[wgsl] ${key}\n${code}`);
    const module = this.device.createShaderModule({ code, label: kernel.name });
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: 'auto',
      compute: { module, entryPoint: kernel.entryPoint, constants: spec.constants ?? {} },
    });
    const compiled: CompiledKernel = { pipeline, uniforms: uniformLayoutOf(kernel), key };
    this.cache.set(key, compiled);
    return compiled;
  }
}
