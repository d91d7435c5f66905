// Pure logic of the GPU layer: buffer pool reuse rules, dispatch folding, specialisation keys and sources.
import { expect, test } from '@playwright/test';
import { BufferPool } from '../../src/gpu/buffer-pool.ts';
import { foldWorkgroups } from '../../src/gpu/context.ts';
import { specialisationKey, specialiseSource, type KernelDefinition } from '../../src/gpu/kernel.ts';

/** Just enough of a GPUDevice for the pool: it counts buffers made and destroyed. */
function countingDevice() {
  const made: { size: number; usage: number; destroyed: boolean }[] = [];
  const device = {
    createBuffer({ size, usage, label }: GPUBufferDescriptor) {
      const buffer = { size, usage, label, destroyed: false, destroy() { buffer.destroyed = true; } };
      made.push(buffer);
      return buffer;
    },
  } as unknown as GPUDevice;
  return { device, made };
}

test('the pool reuses a released buffer of the same size and usage only after a submit', () => {
  const { device, made } = countingDevice();
  const pool = new BufferPool(device);
  const a = pool.acquire(100, 4, 'a');
  expect(a.size).toBe(112);
  pool.release(a);
  const b = pool.acquire(100, 4, 'b');
  expect(b).not.toBe(a);
  pool.release(b);
  pool.recycleAfterSubmit();
  expect([a, b]).toContain(pool.acquire(112, 4, 'c'));
  expect(pool.acquire(100, 8, 'd')).not.toBe(b);
  expect(made.length).toBe(3);
  expect(pool.stats().inUseBytes).toBe(224);
});

test('the pool refuses a buffer it does not hold, and trim destroys free buffers', () => {
  const { device, made } = countingDevice();
  const pool = new BufferPool(device);
  const a = pool.acquire(16, 4, 'a');
  pool.release(a);
  expect(() => pool.release(a)).toThrow(/not held/);
  pool.recycleAfterSubmit();
  expect(pool.trim()).toBe(16);
  expect(made[0]?.destroyed).toBe(true);
  expect(pool.stats()).toEqual({ allocatedBytes: 0, inUseBytes: 0, freeBuffers: 0 });
});

test('foldWorkgroups keeps each dimension within the limit and covers every workgroup', () => {
  for (const [n, max] of [[10, 65535], [65535, 65535], [65536, 65535], [1_000_003, 65535], [7, 3]] as const) {
    const [x, y] = foldWorkgroups(n, max);
    expect(x).toBeLessThanOrEqual(max);
    expect(y).toBeLessThanOrEqual(max);
    expect(x * y).toBeGreaterThanOrEqual(n);
    expect(x * (y - 1)).toBeLessThan(n);
  }
});

const kernel: KernelDefinition = {
  name: 'k',
  entryPoint: 'main',
  source: 'alias StoreT = f32;\noverride TILE: u32 = 4u;\n@compute @workgroup_size(1) fn main() {}',
};

test('specialisation keys depend on storage and constants, not on their order', () => {
  const a = specialisationKey(kernel, { constants: { TILE: 4, WG: 64 } });
  const b = specialisationKey(kernel, { constants: { WG: 64, TILE: 4 } });
  expect(a).toBe(b);
  expect(specialisationKey(kernel, { storage: 'f16', constants: { TILE: 4, WG: 64 } })).not.toBe(a);
  expect(specialisationKey(kernel, { constants: { TILE: 8, WG: 64 } })).not.toBe(a);
});

test('f16 specialisation enables the extension and retypes StoreT only', () => {
  expect(specialiseSource(kernel, {})).toBe(kernel.source);
  const f16 = specialiseSource(kernel, { storage: 'f16' });
  expect(f16.startsWith('enable f16;\n')).toBe(true);
  expect(f16).toContain('alias StoreT = f16;');
  expect(f16).toContain('override TILE: u32 = 4u;');
  expect(() => specialiseSource({ ...kernel, source: 'fn main() {}' }, { storage: 'f16' })).toThrow(/StoreT/);
});
