// Probes: the repetition-penalty kernel against its CPU reference, and greedy text generation with a penalty
// against the penalised reference logits of the tiny LLM.
import { LlmDecoder } from '../../../src/decoders/llm.ts';
import { PenaltyTokens, recordRepetitionPenalty, repetitionPenaltyReference } from '../../../src/kernels/repetition-penalty.ts';
import { parseGoldens } from '../../../src/model/goldens.ts';
import { openUrlSource } from '../../../src/model/source.ts';
import { SeededRandom } from '../../../src/util/random.ts';
import { argmax, compareArrays, type Closeness } from '../compare.ts';
import { gpu } from './context.ts';

export async function penaltyKernelProbe(rows: number, vocab: number, idCount: number, penalty: number, seed: number): Promise<Closeness & { changed: number }> {
  const ctx = await gpu();
  const random = new SeededRandom(seed);
  const logits = random.normals(rows * vocab, 3);
  const ids = Array.from({ length: idCount }, () => random.int(vocab + 5));
  const buffer = ctx.upload(logits, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'probe.logits');
  const tokens = new PenaltyTokens(ctx, idCount);
  tokens.add(ids.filter((id) => id < vocab));
  const rec = ctx.recorder('probe.penalty');
  recordRepetitionPenalty(ctx, rec, buffer, rows, vocab, tokens, penalty);
  rec.submit();
  const actual = new Float32Array(await ctx.read(buffer, 0, rows * vocab * 4));
  tokens.release();
  buffer.destroy();
  const expected = repetitionPenaltyReference(logits, vocab, ids, penalty);
  const changed = expected.filter((v, i) => v !== logits[i]).length;
  return { ...compareArrays(actual, expected, 0, 4e-7), changed };
}

export async function penaltyGreedyProbe(penalty: number): Promise<{ generated: number; expected: number; unpenalised: number }> {
  const ctx = await gpu();
  const source = await openUrlSource('/models/tiny/');
  const llm = await LlmDecoder.load(ctx, source);
  const golden = parseGoldens(await (await fetch('/tests/fixtures/goldens/llm.safetensors')).arrayBuffer(), 'llm', 'llm');
  const prompt = Array.from(golden.tensors.get('prompt.input_ids')?.data as BigInt64Array, Number);
  const vocab = source.manifest.components.llm?.config.vocabSize ?? 0;
  const [raw] = (await llm.lastLogits([prompt])) as [Float32Array];
  const [generated] = (await llm.generateText([prompt], 1, { temperature: 0, topK: 0, topP: 1, repetitionPenalty: penalty }, () => 0.5)) as [number];
  await llm.release();
  return { generated, expected: argmax(repetitionPenaltyReference(raw, vocab, prompt, penalty)), unpenalised: argmax(raw) };
}

export const penaltyProbes = { kernel: penaltyKernelProbe, greedy: penaltyGreedyProbe };
