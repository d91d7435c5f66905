// The engine's handle on one GPUDevice: device info, buffer pool, pipeline cache, loss watch, and a
// command recorder that binds buffers and uniforms by convention. Binding convention for every kernel:
// @group(0) @binding(0) is `Params` (uniforms, when the kernel has them); storage buffers follow from
// @binding(1) in the order the caller passes them.
import { InvalidArgumentError } from '../errors.ts';
import { BufferPool } from './buffer-pool.ts';
import {
  acquireDevice,
  describeDevice,
  DeviceLossWatch,
  type AcquireOptions,
  type GpuAdapterDescription,
  type GpuDeviceInfo,
} from './device.ts';
import type { KernelDefinition, Specialisation } from './kernel.ts';
import { PipelineCache } from './pipeline-cache.ts';
import { packUniforms } from './uniforms.ts';

export type Binding = GPUBuffer | GPUBufferBinding;

export interface DispatchCall {
  kernel: KernelDefinition;
  spec?: Specialisation;
  uniforms?: Record<string, number>;
  bindings: Binding[];
  /** Workgroup counts; a count above maxComputeWorkgroupsPerDimension must be folded by the caller
   *  (see `foldWorkgroups`). */
  workgroups: readonly [number, number?, number?];
}

/** Splits n workgroups into (x, y) with x ≤ max; the kernel recovers id = wid.x + wid.y * nwg.x and
 *  skips ids ≥ n. */
export function foldWorkgroups(n: number, max: number): [number, number] {
  if (n <= max) return [n, 1];
  const y = Math.ceil(n / max);
  return [Math.ceil(n / y), y];
}

/** Buffer copies and maps move whole 4-byte words. */
function copySize(bytes: number): number {
  return Math.ceil(bytes / 4) * 4;
}

export class GpuContext {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly loss: DeviceLossWatch;

  constructor(
    readonly device: GPUDevice,
    readonly info: GpuDeviceInfo,
  ) {
    this.pool = new BufferPool(device);
    this.pipelines = new PipelineCache(device);
    this.loss = new DeviceLossWatch(device);
  }

  static async create(options: AcquireOptions = {}): Promise<GpuContext> {
    const { device, info } = await acquireDevice(options);
    return new GpuContext(device, info);
  }

  /** Wraps a device created elsewhere (e.g. the one shared with onnxruntime-web). */
  static fromDevice(device: GPUDevice, adapter?: GpuAdapterDescription): GpuContext {
    return new GpuContext(device, describeDevice(device, adapter));
  }

  /** A persistent (non-pooled) buffer holding `data`. */
  upload(data: ArrayBufferView, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    this.loss.assertAlive();
    const size = BufferPool.roundSize(data.byteLength);
    const buffer = this.device.createBuffer({ size, usage: usage | GPUBufferUsage.COPY_DST, label });
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  recorder(label: string): CommandRecorder {
    this.loss.assertAlive();
    return new CommandRecorder(this, label);
  }

  /** Copies `bytes` from `source` into a mappable buffer and returns them. */
  async read(source: GPUBuffer, byteOffset: number, bytes: number): Promise<ArrayBuffer> {
    const rec = this.recorder('read');
    const staging = rec.copyToStaging(source, byteOffset, bytes);
    rec.submit();
    return this.mapStaging(staging, bytes);
  }

  /** Maps a staging buffer from `CommandRecorder.copyToStaging` after its submit; returns it to the pool. */
  async mapStaging(staging: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    try {
      await this.pipelines.settle();
    } catch (error) {
      this.pool.release(staging);
      throw error;
    }
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, copySize(bytes));
    } catch (cause) {
      this.loss.assertAlive();
      throw cause;
    }
    const copy = staging.getMappedRange(0, copySize(bytes)).slice(0, bytes);
    staging.unmap();
    this.pool.release(staging);
    return copy;
  }

  dispose(): void {
    this.loss.markDisposing();
    this.pool.trim();
    this.device.destroy();
  }
}

/** Records dispatches and copies into one command encoder; one submit at the end. */
export class CommandRecorder {
  private readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private readonly transient: GPUBuffer[] = [];

  constructor(
    private readonly ctx: GpuContext,
    private readonly label: string,
  ) {
    this.encoder = ctx.device.createCommandEncoder({ label });
  }

  dispatch(call: DispatchCall): void {
    const compiled = this.ctx.pipelines.get(call.kernel, call.spec);
    const max = this.ctx.info.limits.maxComputeWorkgroupsPerDimension;
    const [x, y = 1, z = 1] = call.workgroups;
    if (x > max || y > max || z > max) {
      throw new InvalidArgumentError(`${call.kernel.name}: dispatch ${x}×${y}×${z} exceeds ${max} per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const entries: GPUBindGroupEntry[] = [];
    if (compiled.uniforms) {
      const data = packUniforms(compiled.uniforms, call.uniforms ?? {});
      const buffer = this.ctx.pool.acquire(
        data.byteLength,
        GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        `${call.kernel.name}.params`,
      );
      this.ctx.device.queue.writeBuffer(buffer, 0, data);
      this.transient.push(buffer);
      entries.push({ binding: 0, resource: { buffer } });
    } else if (call.uniforms && Object.keys(call.uniforms).length > 0) {
      throw new Error(`${call.kernel.name} has no Params struct but uniforms were given`);
    }
    call.bindings.forEach((binding, i) => {
      entries.push({ binding: i + 1, resource: 'buffer' in binding ? binding : { buffer: binding } });
    });
    const bindGroup = this.ctx.device.createBindGroup({
      label: call.kernel.name,
      layout: compiled.pipeline.getBindGroupLayout(0),
      entries,
    });
    this.pass ??= this.encoder.beginComputePass({ label: this.label });
    this.pass.setPipeline(compiled.pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(x, y, z);
  }

  copy(source: GPUBuffer, sourceOffset: number, target: GPUBuffer, targetOffset: number, bytes: number): void {
    this.endPass();
    this.encoder.copyBufferToBuffer(source, sourceOffset, target, targetOffset, bytes);
  }

  /** Records a copy into a pooled MAP_READ buffer; map it with `GpuContext.mapStaging` after submit. */
  copyToStaging(source: GPUBuffer, byteOffset: number, bytes: number): GPUBuffer {
    const staging = this.ctx.pool.acquire(bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'staging');
    this.copy(source, byteOffset, staging, 0, copySize(bytes));
    return staging;
  }

  submit(): void {
    this.endPass();
    this.ctx.device.queue.submit([this.encoder.finish()]);
    for (const buffer of this.transient.splice(0)) this.ctx.pool.release(buffer);
    this.ctx.pool.recycleAfterSubmit();
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}
