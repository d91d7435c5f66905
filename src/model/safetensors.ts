// Safetensors reader: 8-byte little-endian header length N, N bytes of JSON header
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}), then the raw
// little-endian tensor bytes. The same format tools/convert/safetensors_io.py writes. Tensors are
// copied out of the buffer into typed arrays (aligned, independent of the source buffer).
import { TarError } from '../errors.ts';

export type SafetensorsDtype = 'F32' | 'F16' | 'I64' | 'I32' | 'U8';

export type TensorData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;

export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** F32 → Float32Array, F16 → Uint16Array (the binary16 bits), I64 → BigInt64Array, I32 → Int32Array, U8 → Uint8Array. */
  data: TensorData;
}

export interface Safetensors {
  metadata: Record<string, string>;
  tensors: Map<string, SafeTensor>;
}

/** A safetensors file that cannot be read: truncated, bad header, unsupported dtype, inconsistent sizes. */
export class SafetensorsError extends TarError {
  constructor(message: string) {
    super('invalid-input', message);
    this.name = 'SafetensorsError';
  }
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, I64: 8, I32: 4, U8: 1 };

/** Refuse absurd header lengths before decoding (the reference implementation caps at 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function makeArray(dtype: SafetensorsDtype, bytes: ArrayBuffer): TensorData {
  switch (dtype) {
    case 'F32':
      return new Float32Array(bytes);
    case 'F16':
      return new Uint16Array(bytes);
    case 'I64':
      return new BigInt64Array(bytes);
    case 'I32':
      return new Int32Array(bytes);
    case 'U8':
      return new Uint8Array(bytes);
  }
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Parses a whole safetensors file. `source` names the file in error messages. */
export function parseSafetensors(buffer: ArrayBufferLike | Uint8Array, source = 'safetensors'): Safetensors {
  if (!littleEndian) throw new SafetensorsError(`${source}: big-endian platforms are not supported`);
  // A plain Uint8Array view (Node's Buffer.slice would not copy).
  const bytes = buffer instanceof Uint8Array ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer);
  if (bytes.byteLength < 8) {
    throw new SafetensorsError(`${source}: not a safetensors file (${bytes.byteLength} bytes, shorter than the 8-byte header length)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.byteLength - 8)) {
    throw new SafetensorsError(`${source}: header length ${headerLength} runs past the end of the file (${bytes.byteLength} bytes; truncated?)`);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${source}: header length ${headerLength} is larger than ${MAX_HEADER_BYTES}`);
  }
  const n = Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new SafetensorsError(`${source}: header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isRecord(header)) throw new SafetensorsError(`${source}: header is not a JSON object`);
  const dataStart = 8 + n;
  const dataBytes = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (info === null) continue;
      if (!isRecord(info)) throw new SafetensorsError(`${source}: __metadata__ is not an object`);
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw new SafetensorsError(`${source}: __metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (!isRecord(info)) throw new SafetensorsError(`${source}: tensor ${name}: entry is not an object`);
    const dtype = info.dtype;
    if (typeof dtype !== 'string' || !(dtype in BYTES)) {
      throw new SafetensorsError(`${source}: tensor ${name} has unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(BYTES).join(', ')})`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${source}: tensor ${name} has a bad shape ${JSON.stringify(shape)}`);
    }
    const offsets = info.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new SafetensorsError(`${source}: tensor ${name} has bad data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const d = dtype as SafetensorsDtype;
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[d]) {
      throw new SafetensorsError(
        `${source}: tensor ${name}: ${d} [${shape.join(', ')}] needs ${count * BYTES[d]} bytes, data_offsets give ${end - begin}`,
      );
    }
    if (end > dataBytes) {
      throw new SafetensorsError(`${source}: tensor ${name} runs past the end of the file (needs byte ${end} of ${dataBytes}; truncated?)`);
    }
    const copy = bytes.slice(dataStart + begin, dataStart + end).buffer;
    tensors.set(name, { dtype: d, shape: shape as number[], data: makeArray(d, copy) });
  }
  return { metadata, tensors };
}
