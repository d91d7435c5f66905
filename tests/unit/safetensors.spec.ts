// Safetensors reader (every dtype, metadata, typed errors for truncated or bad files), golden-file metadata
// checks, and how golden tensor names are matched to a graph's inputs and outputs.
import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TarError } from '../../src/errors.ts';
import { casesForGraph, GoldensError, parseGoldens, unusedGoldenNames } from '../../src/model/goldens.ts';
import { parseSafetensors, SafetensorsError } from '../../src/model/safetensors.ts';

interface Entry {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** Writes a safetensors file the way tools/convert/safetensors_io.py does (header padded to 8 bytes). */
function encode(tensors: Record<string, Entry>, metadata?: Record<string, unknown>, headerOverride?: string): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  const blobs: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.byteLength] };
    blobs.push(t.bytes);
    offset += t.bytes.byteLength;
  }
  if (metadata) header.__metadata__ = metadata;
  let json = headerOverride ?? JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).byteLength % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.byteLength), true);
  out.set(head, 8);
  let at = 8 + head.byteLength;
  for (const b of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function sample(): Record<string, Entry> {
  return {
    f32: { dtype: 'F32', shape: [2, 3], bytes: bytesOf(new Float32Array([1, -2, 3.5, 0, 1e-8, -Infinity])) },
    f16: { dtype: 'F16', shape: [3], bytes: bytesOf(new Uint16Array([0x3c00, 0xc000, 0x7bff])) },
    i64: { dtype: 'I64', shape: [2], bytes: bytesOf(new BigInt64Array([-1n, 2n ** 40n])) },
    i32: { dtype: 'I32', shape: [1, 1], bytes: bytesOf(new Int32Array([-7])) },
    u8: { dtype: 'U8', shape: [5], bytes: new Uint8Array([0, 1, 2, 254, 255]) },
    scalar: { dtype: 'F32', shape: [], bytes: bytesOf(new Float32Array([42])) },
    empty: { dtype: 'F32', shape: [0, 4], bytes: new Uint8Array(0) },
  };
}

function expectError(fn: () => unknown, cls: typeof SafetensorsError | typeof GoldensError, text: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(cls);
    expect(e).toBeInstanceOf(TarError);
    expect((e as Error).message).toContain(text);
    return;
  }
  throw new Error(`expected ${cls.name} containing ${JSON.stringify(text)}`);
}

test('reads every dtype, shapes and metadata', () => {
  const file = encode(sample(), { format: 'x', n: '3' });
  const { metadata, tensors } = parseSafetensors(file.buffer);
  expect(metadata).toEqual({ format: 'x', n: '3' });
  expect([...tensors.keys()]).toEqual(['f32', 'f16', 'i64', 'i32', 'u8', 'scalar', 'empty']);
  const f32 = tensors.get('f32')!;
  expect(f32.dtype).toBe('F32');
  expect(f32.shape).toEqual([2, 3]);
  expect(f32.data).toBeInstanceOf(Float32Array);
  expect(Array.from(f32.data as Float32Array)).toEqual([1, -2, 3.5, 0, Math.fround(1e-8), -Infinity]);
  expect(tensors.get('f16')!.data).toEqual(new Uint16Array([0x3c00, 0xc000, 0x7bff]));
  expect(tensors.get('i64')!.data).toEqual(new BigInt64Array([-1n, 2n ** 40n]));
  expect(tensors.get('i32')!.data).toEqual(new Int32Array([-7]));
  expect(tensors.get('u8')!.data).toEqual(new Uint8Array([0, 1, 2, 254, 255]));
  expect(Array.from(tensors.get('scalar')!.data as Float32Array)).toEqual([42]);
  expect(tensors.get('empty')!.data.length).toBe(0);
  // A Uint8Array view at an odd offset into a bigger buffer works too (data is copied out, aligned).
  const shifted = new Uint8Array(file.byteLength + 3);
  shifted.set(file, 3);
  const again = parseSafetensors(shifted.subarray(3));
  expect(again.tensors.get('i64')!.data).toEqual(new BigInt64Array([-1n, 2n ** 40n]));
});

test('reads a file written by the Python converter core (tools/convert/safetensors_io.py)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  const path = join(dir, 'py.safetensors');
  const script = [
    'import sys, torch',
    'from tools.convert.safetensors_io import save_file',
    'save_file({"a": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4, "b": torch.tensor([1, -2], dtype=torch.int64),',
    '           "c": torch.tensor([1.5, -0.25]).half()}, sys.argv[1], {"format": "tar-goldens", "version": 1, "component": "t"})',
  ].join('\n');
  try {
    execFileSync('/usr/bin/python3', ['-c', script, path], { cwd: process.cwd(), stdio: 'pipe' });
    const goldens = parseGoldens(readFileSync(path), path, 't');
    expect(goldens.component).toBe('t');
    expect(Array.from(goldens.tensors.get('a')!.data as Float32Array)).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
    expect(goldens.tensors.get('a')!.shape).toEqual([2, 3]);
    expect(goldens.tensors.get('b')!.data).toEqual(new BigInt64Array([1n, -2n]));
    expect(goldens.tensors.get('c')!.data).toEqual(new Uint16Array([0x3e00, 0xb400]));
  } finally {
    if (existsSync(dir)) rmSync(dir, { recursive: true });
  }
});

test('truncated files and bad headers are SafetensorsErrors that say what is wrong', () => {
  const good = encode(sample());
  expectError(() => parseSafetensors(new Uint8Array(5), 'x.st'), SafetensorsError, 'x.st: not a safetensors file (5 bytes');
  expectError(() => parseSafetensors(good.subarray(0, 20)), SafetensorsError, 'runs past the end of the file');
  expectError(() => parseSafetensors(good.subarray(0, good.byteLength - 1)), SafetensorsError, 'tensor scalar runs past the end of the file (needs byte 59 of 58; truncated?)');
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  expectError(() => parseSafetensors(huge), SafetensorsError, 'header length 9223372036854775808 runs past the end');
  expectError(() => parseSafetensors(encode({}, undefined, '{"a": ')), SafetensorsError, 'header is not UTF-8 JSON');
  expectError(() => parseSafetensors(encode({}, undefined, '[1, 2]')), SafetensorsError, 'header is not a JSON object');
  const bad = (entry: unknown) => encode({}, undefined, JSON.stringify({ t: entry }));
  expectError(() => parseSafetensors(bad({ dtype: 'BF16', shape: [1], data_offsets: [0, 2] })), SafetensorsError, 'tensor t has unsupported dtype "BF16"');
  expectError(() => parseSafetensors(bad({ dtype: 'F32', shape: [-1], data_offsets: [0, 4] })), SafetensorsError, 'tensor t has a bad shape [-1]');
  expectError(() => parseSafetensors(bad({ dtype: 'F32', shape: [1], data_offsets: [4, 0] })), SafetensorsError, 'tensor t has bad data_offsets [4,0]');
  expectError(() => parseSafetensors(bad({ dtype: 'F32', shape: [2], data_offsets: [0, 4] })), SafetensorsError, 'tensor t: F32 [2] needs 8 bytes, data_offsets give 4');
  expectError(() => parseSafetensors(bad(3)), SafetensorsError, 'tensor t: entry is not an object');
  expectError(
    () => parseSafetensors(encode({}, undefined, JSON.stringify({ __metadata__: { k: 1 } }))),
    SafetensorsError,
    '__metadata__.k is not a string',
  );
});

test('golden files must say format tar-goldens, version 1, and the expected component', () => {
  const t = { 'input.x': { dtype: 'F32', shape: [1], bytes: bytesOf(new Float32Array([1])) } };
  const ok = parseGoldens(encode(t, { format: 'tar-goldens', version: '1', component: 'vq' }), 'vq.st', 'vq');
  expect(ok.tensors.get('input.x')!.shape).toEqual([1]);
  expectError(() => parseGoldens(encode(t, { format: 'tar-goldens', version: '0', component: 'vq' }), 'g.st'), GoldensError, 'g.st: not a version-1 golden file');
  expectError(() => parseGoldens(encode(t), 'g.st'), GoldensError, 'not a version-1 golden file (metadata {})');
  expectError(
    () => parseGoldens(encode(t, { format: 'tar-goldens', version: '1', component: 'llm' }), 'g.st', 'vq'),
    GoldensError,
    'goldens of component "llm", expected "vq"',
  );
});

test('golden names are matched to graph runs in both naming schemes', () => {
  const model = { names: ['model', 'model'], inputNames: ['input_ids', 'past_key_values.0.key'], outputNames: ['logits', 'present.0.key'] };
  // <step>.input.<name> (llm, ardtok)
  const llm = [
    'prefill.input.input_ids', 'prefill.input.past_key_values.0.key', 'prefill.output.logits', 'prefill.output.present.0.key',
    'decode.input.input_ids', 'decode.input.past_key_values.0.key', 'decode.output.logits',
    'partial.input.input_ids', 'partial.output.logits', // lacks an input: not a run
    'prompt.input_ids', 'prompt.text',
  ];
  const cases = casesForGraph(llm, model);
  expect(cases.map((c) => c.step)).toEqual(['decode', 'prefill']);
  expect([...cases[1]!.inputs]).toEqual([['input_ids', 'prefill.input.input_ids'], ['past_key_values.0.key', 'prefill.input.past_key_values.0.key']]);
  expect([...cases[1]!.outputs.keys()]).toEqual(['logits', 'present.0.key']);
  expect([...cases[0]!.outputs.keys()]).toEqual(['logits']);
  expect(unusedGoldenNames(llm, cases)).toEqual(['partial.input.input_ids', 'partial.output.logits', 'prompt.input_ids', 'prompt.text']);

  // input.<step>.<name> (tatok) and plain input.<name> (vq); a step naming another graph is that graph's.
  const encoder = { names: ['encoder'], inputNames: ['pixel_values'], outputNames: ['features'] };
  const project = { names: ['project'], inputNames: ['features'], outputNames: ['codes'] };
  const decoder = { names: ['decoder'], inputNames: ['rows', 'positions'], outputNames: ['features'] };
  const tatok = [
    'input.encoder.pixel_values', 'output.encoder.features', 'input.project.features', 'output.project.codes',
    'input.decoder.rows', 'input.decoder.positions', 'output.decoder.features', 'output.indices.scale1', 'input.image_rgb',
  ];
  const graphs = [encoder, project, decoder];
  expect(casesForGraph(tatok, encoder, graphs).map((c) => [c.step, [...c.outputs.values()]])).toEqual([['encoder', ['output.encoder.features']]]);
  expect(casesForGraph(tatok, project, graphs).map((c) => c.step)).toEqual(['project']);
  expect(casesForGraph(tatok, decoder, graphs).map((c) => [...c.inputs.values()])).toEqual([['input.decoder.rows', 'input.decoder.positions']]);
  const vq = { names: ['decoder'], inputNames: ['codes'], outputNames: ['image'] };
  const vqCases = casesForGraph(['input.codes', 'output.image', 'output.image_uint8'], vq);
  expect(vqCases.map((c) => [c.step, [...c.inputs.values()], [...c.outputs.values()]])).toEqual([['', ['input.codes'], ['output.image']]]);
  expect(unusedGoldenNames(['input.codes', 'output.image', 'output.image_uint8'], vqCases)).toEqual(['output.image_uint8']);
  // Inputs without any output are not a run.
  expect(casesForGraph(['input.codes'], vq)).toEqual([]);
});

test('parity comparison: relative 1e-4 with a floor of 1e-5 of the tensor scale, integers exact, shape and dtype must match', async () => {
  const { compareOutput } = await import('../parity/golden-runner.ts');
  const fake = (type: string, data: ArrayLike<number | bigint>, dims: number[]) => ({ type, data, dims }) as never;
  const golden = { dtype: 'F32' as const, shape: [4], data: new Float32Array([10, -2, 0, 0]) };
  // scale 10 → floor 1e-4: 10 ± 9e-4 passes (rel 9e-5), 0 ± 9e-5 passes (floor), -2 ± 3e-4 fails (rel 1.5e-4).
  const r = compareOutput('y', 'output.y', fake('float32', new Float32Array([10.0009, -2.0003, 9e-5, 0]), [4]), golden);
  expect(r.mismatches).toBe(1);
  expect(r.absFloor).toBeCloseTo(1e-4, 12);
  expect(compareOutput('y', 'output.y', fake('float32', new Float32Array([10, -2, 0, 0]), [2, 2]), golden).mismatches).toBe(4);
  expect(compareOutput('y', 'output.y', fake('float16', new Uint16Array(4), [4]), golden).mismatches).toBe(4);
  const ids = { dtype: 'I64' as const, shape: [3], data: new BigInt64Array([1n, 2n, 3n]) };
  expect(compareOutput('i', 'output.i', fake('int64', new BigInt64Array([1n, 2n, 3n]), [3]), ids).mismatches).toBe(0);
  expect(compareOutput('i', 'output.i', fake('int64', new BigInt64Array([1n, 2n, 4n]), [3]), ids).mismatches).toBe(1);
});
