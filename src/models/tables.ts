// Raw package tables (`.bin`, little-endian, row-major, float32 or float16; docs/model-format.md) as typed
// arrays, and row gathers from them in float32. Does not fetch: the caller passes the file's bytes.
import { InvalidInputError } from '../errors.ts';
import type { TableSpec } from '../model/manifest.ts';
import { fromHalfBits } from '../util/half.ts';

/** A table in its storage dtype: float32 values or binary16 bits. */
export interface Table {
  spec: TableSpec;
  rows: number;
  cols: number;
  values: Float32Array | Uint16Array;
}

let halfLookup: Float32Array | null = null;

/** binary16 bits → float32, through a 65536-entry table built on first use. */
function halfToFloat(): Float32Array {
  if (!halfLookup) {
    halfLookup = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) halfLookup[bits] = fromHalfBits(bits);
  }
  return halfLookup;
}

/** Wraps the bytes of a 2-D table (copied when they are not aligned for the dtype). */
export function readTable(bytes: Uint8Array, spec: TableSpec, what: string): Table {
  const [rows, cols] = spec.shape;
  if (spec.shape.length !== 2 || rows === undefined || cols === undefined) {
    throw new InvalidInputError(`${what}: expected a 2-D table, the manifest gives shape [${spec.shape.join(', ')}]`);
  }
  const elementBytes = spec.dtype === 'float16' ? 2 : 4;
  if (bytes.byteLength !== rows * cols * elementBytes) {
    throw new InvalidInputError(`${what}: ${bytes.byteLength} bytes, expected ${spec.dtype} [${rows}, ${cols}]`);
  }
  const aligned = bytes.byteOffset % elementBytes === 0 ? bytes : bytes.slice();
  const values =
    spec.dtype === 'float16'
      ? new Uint16Array(aligned.buffer, aligned.byteOffset, rows * cols)
      : new Float32Array(aligned.buffer, aligned.byteOffset, rows * cols);
  return { spec, rows, cols, values };
}

/** The whole table as float32 (a view when it is stored as float32). */
export function tableAsFloat32(table: Table): Float32Array {
  if (table.values instanceof Float32Array) return table.values;
  const lookup = halfToFloat();
  const out = new Float32Array(table.values.length);
  for (let i = 0; i < out.length; i++) out[i] = lookup[table.values[i] as number] as number;
  return out;
}

/** Rows `first … first + count − 1` as float32 [count, cols]. */
export function tableSlice(table: Table, first: number, count: number): Float32Array {
  const part = table.values.subarray(first * table.cols, (first + count) * table.cols);
  return tableAsFloat32({ ...table, rows: count, values: part });
}

/** Rows `indices` as float32 [indices.length, cols]; the caller checks the indices. */
export function gatherRows(table: Table, indices: ArrayLike<number>): Float32Array {
  const { cols, values } = table;
  const out = new Float32Array(indices.length * cols);
  const lookup = values instanceof Uint16Array ? halfToFloat() : null;
  for (let i = 0; i < indices.length; i++) {
    const src = (indices[i] as number) * cols;
    if (lookup) {
      for (let d = 0; d < cols; d++) out[i * cols + d] = lookup[values[src + d] as number] as number;
    } else {
      out.set(values.subarray(src, src + cols), i * cols);
    }
  }
  return out;
}
