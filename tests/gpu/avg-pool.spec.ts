// Scale-adaptive average pooling against its CPU reference, over Tar's scales and odd shapes.
import { expect, test } from './fixtures.ts';

const cases = [
  { batch: 1, height: 27, width: 27, channels: 1152, scale: 2 },
  { batch: 1, height: 27, width: 27, channels: 1152, scale: 3 },
  { batch: 2, height: 27, width: 27, channels: 37, scale: 2 },
  { batch: 1, height: 5, width: 7, channels: 3, scale: 2 },
  { batch: 3, height: 4, width: 4, channels: 1, scale: 4 },
  { batch: 1, height: 9, width: 9, channels: 65, scale: 1 },
];

for (const [i, shape] of cases.entries()) {
  test(`avg_pool ${shape.batch}×${shape.height}×${shape.width}×${shape.channels} scale ${shape.scale}`, async ({ harnessPage }) => {
    const result = await harnessPage.evaluate(([s, seed]) => window.harness.avgPool(s, seed), [shape, i + 1] as const);
    const cells = Math.floor(shape.height / shape.scale) * Math.floor(shape.width / shape.scale);
    expect(result.count).toBe(shape.batch * cells * shape.channels);
    expect(result.mismatches).toBe(0);
  });
}

test('avg_pool rejects a scale larger than the grid and a wrong-sized input', async ({ harnessPage }) => {
  const errors = await harnessPage.evaluate(async () => ({
    scale: await window.harness.describeErrorForTest(() =>
      window.harness.avgPool({ batch: 1, height: 2, width: 2, channels: 1, scale: 3 }, 1),
    ),
    size: await window.harness.describeErrorForTest(() =>
      window.harness.avgPoolWrongSize({ batch: 1, height: 4, width: 4, channels: 2, scale: 2 }, 31),
    ),
  }));
  expect(errors.scale).toMatchObject({ name: 'InvalidArgumentError' });
  expect(errors.size).toMatchObject({ name: 'InvalidInputError', code: 'invalid-input' });
});
