// Pure planning for the codebook nearest-neighbour kernel (vq-nearest.ts): how a codebook is split into
// chunks that fit the device's binding and buffer limits, and which query tile a call uses. No GPU here,
// so it is unit-tested in Node.
import { GpuLimitError, InvalidArgumentError } from '../errors.ts';

export interface ChunkPlan {
  /** Global index of the first row. */
  baseRow: number;
  rows: number;
  /** Stored rows: `rows` padded to a multiple of `blockRows`. */
  stride: number;
}

/**
 * Splits K rows of D elements (elementBytes each) into chunks of at most `chunkRows` rows (default: as
 * many as fit), each stored padded to a multiple of `blockRows` rows within `limitBytes` (the smaller of
 * maxStorageBufferBindingSize and maxBufferSize).
 */
export function planChunks(
  size: number,
  dim: number,
  elementBytes: number,
  blockRows: number,
  limitBytes: number,
  chunkRows?: number,
): ChunkPlan[] {
  const maxChunkRows = Math.floor(limitBytes / (dim * elementBytes) / blockRows) * blockRows;
  if (maxChunkRows < 1) throw new GpuLimitError('maxStorageBufferBindingSize', blockRows * dim * elementBytes, limitBytes);
  if (chunkRows !== undefined && (!Number.isInteger(chunkRows) || chunkRows < 1)) {
    throw new InvalidArgumentError(`vq_nearest: chunkRows = ${chunkRows} must be a positive integer`);
  }
  const perChunk = Math.min(chunkRows ?? maxChunkRows, maxChunkRows);
  const chunks: ChunkPlan[] = [];
  for (let baseRow = 0; baseRow < size; baseRow += perChunk) {
    const rows = Math.min(perChunk, size - baseRow);
    chunks.push({ baseRow, rows, stride: Math.ceil(rows / blockRows) * blockRows });
  }
  return chunks;
}

/**
 * Relative cost per padded query of a tile with 1–4 vec4s of queries per invocation (measured on
 * SwiftShader at N=81, K=2048–8192, D=1536 with 8 rows per invocation: wider query tiles reuse each
 * codebook load for more queries).
 */
const QUERY_VEC_COST = [2.0, 1.3, 1.05, 1.0];

/** vec4 groups of queries per invocation for N queries: the least padded work, weighted by tile cost. */
export function chooseQueryVecs(count: number, maxVecs = QUERY_VEC_COST.length): number {
  let best = 1;
  let bestCost = Infinity;
  for (let vecs = 1; vecs <= Math.min(maxVecs, QUERY_VEC_COST.length); vecs++) {
    const padded = Math.ceil(count / (4 * vecs)) * 4 * vecs;
    const cost = padded * (QUERY_VEC_COST[vecs - 1] as number);
    if (cost < bestCost) {
      best = vecs;
      bestCost = cost;
    }
  }
  return best;
}
