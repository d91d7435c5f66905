// Probe: onnxruntime-web on the engine's own GPUDevice, fed and read through our GPU buffers, with a
// graph written by bench/onnx-builder.ts; and our kernels still working after ORT released its session.
import { OnnxGraphBuilder } from '../../../bench/onnx-builder.ts';
import { avgPool, avgPoolReference } from '../../../src/kernels/avg-pool.ts';
import { createSharedSession, ort } from '../../../src/ort/session.ts';
import { SeededRandom } from '../../../src/util/random.ts';
import { compareArrays } from '../compare.ts';
import { gpu } from './context.ts';

export interface OrtSharedReport {
  sameDevice: boolean;
  argmax: number[];
  expectedArgmax: number[];
  scaledMaxError: number;
  poolMismatchesAfterRelease: number;
}

export async function ortSharedProbe(): Promise<OrtSharedReport> {
  const ctx = await gpu();
  const rows = 5;
  const cols = 7;
  // scores[r, c] = x[r, c] · 2 (an initializer), argmax over c.
  const graph = new OnnxGraphBuilder('probe')
    .input('x', 'float32', ['rows', cols])
    .initializer('two', 'float32', [1], [2])
    .node('Mul', ['x', 'two'], ['scaled'])
    .node('ArgMax', ['scaled'], ['best'], { axis: 1, keepdims: 0 })
    .output('scaled', 'float32', ['rows', cols])
    .output('best', 'int64', ['rows'])
    .build();
  const session = await createSharedSession(ctx.device, graph, { preferredOutputLocation: { scaled: 'gpu-buffer' } });
  const x = new SeededRandom(3).normals(rows * cols);
  const input = ctx.upload(x, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'probe.x');
  const feeds = { x: ort.Tensor.fromGpuBuffer(input, { dataType: 'float32', dims: [rows, cols] }) };
  const out = await session.run(feeds);
  const scaledTensor = out.scaled as ort.Tensor;
  const scaledBuffer = scaledTensor.gpuBuffer as GPUBuffer;
  const scaled = new Float32Array(await ctx.read(scaledBuffer, 0, rows * cols * 4));
  const best = Array.from((out.best as ort.Tensor).data as BigInt64Array, Number);
  const expectedArgmax = Array.from({ length: rows }, (_, r) => {
    let arg = 0;
    for (let c = 1; c < cols; c++) if ((x[r * cols + c] as number) > (x[r * cols + arg] as number)) arg = c;
    return arg;
  });
  const scaledMaxError = compareArrays(scaled, x.map((v) => v * 2), 0, 0).maxAbsError;
  scaledTensor.dispose();
  await session.release();
  input.destroy();

  const shape = { batch: 1, height: 6, width: 6, channels: 4, scale: 2 };
  const tokens = new SeededRandom(4).normals(144);
  const pooled = await avgPool(ctx, shape, tokens);
  return {
    sameDevice: (await ort.env.webgpu.device) === ctx.device,
    argmax: best,
    expectedArgmax,
    scaledMaxError,
    poolMismatchesAfterRelease: compareArrays(pooled, avgPoolReference(shape, tokens), 1e-6, 1e-6).mismatches,
  };
}
