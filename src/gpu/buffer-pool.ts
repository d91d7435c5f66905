// A pool of GPUBuffers keyed by (rounded size, usage). A released buffer goes back to the free list only
// after the submit that used it (`recycleAfterSubmit`), as ORT's gpu-data-manager does; queue order then
// makes reuse safe. It does not decide what to allocate: kernels and models ask for what they need.

const ALIGNMENT = 16;

export interface PoolStats {
  allocatedBytes: number;
  inUseBytes: number;
  freeBuffers: number;
}

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly pending: GPUBuffer[] = [];
  private readonly inUse = new Set<GPUBuffer>();
  private allocatedBytes = 0;

  constructor(private readonly device: GPUDevice) {}

  static roundSize(bytes: number): number {
    return Math.max(ALIGNMENT, Math.ceil(bytes / ALIGNMENT) * ALIGNMENT);
  }

  private static key(size: number, usage: number): string {
    return `${size}:${usage}`;
  }

  acquire(bytes: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    const size = BufferPool.roundSize(bytes);
    const list = this.free.get(BufferPool.key(size, usage));
    let buffer = list?.pop();
    if (!buffer) {
      buffer = this.device.createBuffer({ size, usage, label });
      this.allocatedBytes += size;
    }
    this.inUse.add(buffer);
    return buffer;
  }

  /** Returns a buffer; it becomes reusable after the next `recycleAfterSubmit()`. */
  release(buffer: GPUBuffer): void {
    if (!this.inUse.delete(buffer)) throw new Error(`buffer "${buffer.label}" is not held from this pool`);
    this.pending.push(buffer);
  }

  /** Call right after queue.submit(): buffers released before it become reusable. */
  recycleAfterSubmit(): void {
    for (const buffer of this.pending.splice(0)) {
      const key = BufferPool.key(buffer.size, buffer.usage);
      const list = this.free.get(key) ?? [];
      list.push(buffer);
      this.free.set(key, list);
    }
  }

  /** Destroys free buffers (e.g. after a large job) and returns how many bytes were given back. */
  trim(): number {
    let bytes = 0;
    for (const list of this.free.values()) {
      for (const buffer of list) {
        bytes += buffer.size;
        buffer.destroy();
      }
    }
    this.free.clear();
    this.allocatedBytes -= bytes;
    return bytes;
  }

  stats(): PoolStats {
    let inUseBytes = 0;
    for (const buffer of this.inUse) inUseBytes += buffer.size;
    let freeBuffers = 0;
    for (const list of this.free.values()) freeBuffers += list.length;
    return { allocatedBytes: this.allocatedBytes, inUseBytes, freeBuffers };
  }
}
