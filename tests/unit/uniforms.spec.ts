// Uniform reflection and packing (pure logic).
import { expect, test } from '@playwright/test';
import { packUniforms, reflectUniformLayout } from '../../src/gpu/uniforms.ts';

const wgsl = `
struct Params {
  rows: u32,   // a comment
  bias: i32,
  scale: f32,
}
@group(0) @binding(0) var<uniform> params: Params;`;

test('reflects scalar fields in order and pads to 16 bytes', () => {
  const layout = reflectUniformLayout(wgsl);
  expect(layout?.fields.map((f) => [f.name, f.type, f.offset])).toEqual([
    ['rows', 'u32', 0],
    ['bias', 'i32', 4],
    ['scale', 'f32', 8],
  ]);
  expect(layout?.byteLength).toBe(16);
});

test('packs little-endian values at their offsets', () => {
  const layout = reflectUniformLayout(wgsl)!;
  const view = new DataView(packUniforms(layout, { rows: 7, bias: -3, scale: 0.5 }));
  expect(view.getUint32(0, true)).toBe(7);
  expect(view.getInt32(4, true)).toBe(-3);
  expect(view.getFloat32(8, true)).toBe(0.5);
});

test('rejects missing, unknown and out-of-range uniforms', () => {
  const layout = reflectUniformLayout(wgsl)!;
  expect(() => packUniforms(layout, { rows: 1, bias: 0 })).toThrow(/scale.*missing/);
  expect(() => packUniforms(layout, { rows: 1, bias: 0, scale: 1, extra: 2 })).toThrow(/extra/);
  expect(() => packUniforms(layout, { rows: -1, bias: 0, scale: 1 })).toThrow(/not a u32/);
});

test('rejects non-scalar fields and reports a missing struct as null', () => {
  expect(() => reflectUniformLayout('struct Params { v: vec4<f32>, }')).toThrow(/unsupported/);
  expect(reflectUniformLayout('fn main() {}')).toBeNull();
});
