// What a compute kernel is, as data: a name, its WGSL source, and how a specialisation (storage type,
// override constants) changes it. Shapes never enter the source or the cache key: they are uniforms.
import { reflectUniformLayout, type UniformLayout } from './uniforms.ts';

/** Storage element type of a kernel's big tensor (the codebook, the KV cache, ...). */
export type StorageType = 'f32' | 'f16';

export interface KernelDefinition {
  /** Unique, e.g. "vq_nearest.partial"; also the label of the GPU objects it makes. */
  name: string;
  /** WGSL text, imported from shaders/*.wgsl. */
  source: string;
  entryPoint: string;
}

export interface Specialisation {
  /** Rewrites `alias StoreT = f32;` to f16 (and enables the extension). Needs `shader-f16`. */
  storage?: StorageType;
  /** WGSL `override` constants (workgroup size, tile sizes, ...). */
  constants?: Record<string, number>;
}

export interface CompiledKernel {
  pipeline: GPUComputePipeline;
  uniforms: UniformLayout | null;
  key: string;
}

const STORE_ALIAS = /alias\s+StoreT\s*=\s*f32\s*;/;

/** The WGSL a specialisation compiles to. */
export function specialiseSource(kernel: KernelDefinition, spec: Specialisation): string {
  if ((spec.storage ?? 'f32') === 'f32') return kernel.source;
  if (!STORE_ALIAS.test(kernel.source)) {
    throw new Error(`kernel ${kernel.name} has no "alias StoreT = f32;" to specialise to f16`);
  }
  return `enable f16;\n${kernel.source.replace(STORE_ALIAS, 'alias StoreT = f16;')}`;
}

/** Cache key: the kernel and exactly what its source depends on. */
export function specialisationKey(kernel: KernelDefinition, spec: Specialisation): string {
  const constants = Object.entries(spec.constants ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${kernel.name}#${kernel.entryPoint}|${spec.storage ?? 'f32'}|${constants}`;
}

export function uniformLayoutOf(kernel: KernelDefinition): UniformLayout | null {
  return reflectUniformLayout(kernel.source);
}
