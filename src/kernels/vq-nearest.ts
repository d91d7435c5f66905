// Codebook nearest neighbour by cosine similarity (TA-Tok quantiser, TAR_SPEC §1.5–1.6): for each query the
// row of a unit-row codebook with the largest dot product (ties → lowest index, as torch.argmax) and its
// cosine score. The codebook is uploaded once as a `GpuCodebook`: chunks of rows, each within the device's
// binding and buffer limits, stored as transposed blocks of rows ([blocks, D, rows per block]) so adjacent
// invocations read adjacent words and one workgroup reads one contiguous block.
// Three passes (shaders/vq_nearest*.wgsl): prepare queries, per-chunk partial bests, final reduce; only
// (index, score) pairs are read back. Also the float64 CPU reference. Not a top-k and not the stochastic
// (multinomial) assignment.
import partialSource from '../../shaders/vq_nearest.wgsl?raw';
import prepareSource from '../../shaders/vq_nearest_prepare.wgsl?raw';
import reduceSource from '../../shaders/vq_nearest_reduce.wgsl?raw';
import { GpuLimitError, InvalidArgumentError, InvalidInputError } from '../errors.ts';
import { foldWorkgroups, type CommandRecorder, type GpuContext } from '../gpu/context.ts';
import type { KernelDefinition, StorageType } from '../gpu/kernel.ts';
import { toHalfArray } from '../util/half.ts';
import { chooseQueryVecs, planChunks, type ChunkPlan } from './vq-nearest-plan.ts';

export const vqPrepareKernel: KernelDefinition = { name: 'vq_nearest.prepare', source: prepareSource, entryPoint: 'main' };
export const vqPartialKernel: KernelDefinition = { name: 'vq_nearest.partial', source: partialSource, entryPoint: 'partial' };
export const vqReduceKernel: KernelDefinition = { name: 'vq_nearest.reduce', source: reduceSource, entryPoint: 'main' };

/** Register tile of the partial pass: each invocation holds `rows` × 4·`queryVecs` dot products. */
export interface VqTile {
  workgroupSize: number;
  /** Codebook rows per invocation, 1–8 (fixed per codebook: it sets the chunks' padding). */
  rows: number;
  /** vec4 groups of queries per invocation, 1–4; default: chosen per call by `chooseQueryVecs`. */
  queryVecs?: number;
}

/** Fastest of the shapes tried on SwiftShader (N=81, K=2048–65536, D=1536; rows 2–8 × queryVecs 1–4,
 *  workgroups of 4–128; 16 and 64 were within noise). A GPU may prefer others: compare them with the
 *  harness probe `vqNearestTiming` (tests/gpu/probes/vq-nearest.ts). */
export const DEFAULT_TILE: VqTile = { workgroupSize: 64, rows: 8 };
const MAX_ROWS = 8;
const MAX_QUERY_VECS = 4;
const SMALL_WORKGROUP = 64;
const NOT_FINITE = 0xffffffff;
/** Rows of a codebook accepted as unit length: | |row| − 1 | ≤ this (zero rows are accepted too). */
const UNIT_TOLERANCE = 1e-3;
/** Upload batch: bytes of transposed blocks written per writeBuffer. */
const UPLOAD_BYTES = 16 * 1024 * 1024;

export interface CodebookOptions {
  /** Storage of the codebook; default f16 when the device has shader-f16, else f32. */
  storage?: StorageType;
  /** Rows per chunk (fewer when the device limits require); default as many as the limits allow. */
  chunkRows?: number;
  tile?: VqTile;
}

export interface CodebookChunk extends ChunkPlan {
  buffer: GPUBuffer;
}

export interface GpuCodebook {
  readonly size: number;
  readonly dim: number;
  readonly storage: StorageType;
  readonly tile: VqTile;
  readonly chunks: readonly CodebookChunk[];
  /** Workgroup blocks over all chunks (partial results per query). */
  readonly totalBlocks: number;
  destroy(): void;
}

export interface NearestResult {
  /** [N] best row per query. */
  indices: Uint32Array;
  /** [N] cosine similarity of that row: dot / max(|q|, 1e-12). */
  scores: Float32Array;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`vq_nearest: ${name} = ${value} must be a positive integer`);
}

function validateTile(tile: VqTile, ctx: GpuContext): void {
  positiveInteger('tile.workgroupSize', tile.workgroupSize);
  if ((tile.workgroupSize & (tile.workgroupSize - 1)) !== 0 || tile.workgroupSize > ctx.info.limits.maxComputeInvocationsPerWorkgroup) {
    throw new InvalidArgumentError(`vq_nearest: tile.workgroupSize = ${tile.workgroupSize} must be a power of two within the device limit`);
  }
  if (!Number.isInteger(tile.rows) || tile.rows < 1 || tile.rows > MAX_ROWS) {
    throw new InvalidArgumentError(`vq_nearest: tile.rows = ${tile.rows} must be 1–${MAX_ROWS}`);
  }
  if (tile.queryVecs !== undefined && (!Number.isInteger(tile.queryVecs) || tile.queryVecs < 1 || tile.queryVecs > MAX_QUERY_VECS)) {
    throw new InvalidArgumentError(`vq_nearest: tile.queryVecs = ${tile.queryVecs} must be 1–${MAX_QUERY_VECS}`);
  }
}

/** Checks that every value is finite and every row has unit length (or is zero). */
function validateCodebookRows(rows: Float32Array, size: number, dim: number): void {
  for (let k = 0; k < size; k++) {
    let sumSq = 0;
    for (let d = k * dim, end = d + dim; d < end; d++) {
      const x = rows[d] as number;
      sumSq += x * x;
    }
    if (!Number.isFinite(sumSq)) throw new InvalidInputError(`vq_nearest: codebook row ${k} is not finite`);
    const norm = Math.sqrt(sumSq);
    if (norm !== 0 && Math.abs(norm - 1) > UNIT_TOLERANCE) {
      throw new InvalidInputError(`vq_nearest: codebook row ${k} has norm ${norm}; rows must be L2-normalised`);
    }
  }
}

function padOne(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length + 1);
  out.set(values);
  return out;
}

/** Uploads a codebook [K, D] (row-major, unit rows) once, as chunks of transposed rows. */
export function createCodebook(
  ctx: GpuContext,
  rows: Float32Array,
  size: number,
  dim: number,
  options: CodebookOptions = {},
): GpuCodebook {
  if (size === 0) throw new InvalidInputError('vq_nearest: the codebook is empty (K = 0)');
  positiveInteger('K', size);
  positiveInteger('D', dim);
  const tile = options.tile ?? DEFAULT_TILE;
  validateTile(tile, ctx);
  if (rows.length !== size * dim) {
    throw new InvalidInputError(`vq_nearest: codebook has ${rows.length} values, expected K·D = ${size}·${dim}`);
  }
  const storage: StorageType = options.storage ?? (ctx.info.features.shaderF16 ? 'f16' : 'f32');
  if (storage === 'f16' && !ctx.info.features.shaderF16) {
    throw new InvalidArgumentError('vq_nearest: f16 codebook storage needs the shader-f16 feature');
  }
  validateCodebookRows(rows, size, dim);

  const elementBytes = storage === 'f16' ? 2 : 4;
  const blockRows = tile.workgroupSize * tile.rows;
  const limit = Math.min(ctx.info.limits.maxStorageBufferBindingSize, ctx.info.limits.maxBufferSize);
  const plan = planChunks(size, dim, elementBytes, blockRows, limit, options.chunkRows);

  const chunks: CodebookChunk[] = [];
  let totalBlocks = 0;
  for (const { baseRow, rows: count, stride } of plan) {
    const buffer = ctx.device.createBuffer({
      size: Math.ceil((stride * dim * elementBytes) / 4) * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      label: `vq_nearest.codebook[${chunks.length}]`,
    });
    // chunk: [blocks, D, blockRows], each block transposed; written a batch of blocks at a time (an even
    // count when a block is an odd number of halves, so every write starts on a 4-byte word); rows past
    // the codebook's end stay zero.
    const blockElements = dim * blockRows;
    const blocks = stride / blockRows;
    let batch = Math.max(1, Math.floor(UPLOAD_BYTES / (blockElements * elementBytes)));
    if ((blockElements * elementBytes) % 4 !== 0 && batch % 2 !== 0) batch++;
    const slab = new Float32Array(batch * blockElements);
    for (let b0 = 0; b0 < blocks; b0 += batch) {
      const inBatch = Math.min(batch, blocks - b0);
      slab.fill(0);
      for (let b = 0; b < inBatch; b++) {
        const firstRow = (b0 + b) * blockRows;
        const rowsHere = Math.min(blockRows, count - firstRow);
        const out = b * blockElements;
        for (let r = 0; r < rowsHere; r++) {
          const src = (baseRow + firstRow + r) * dim;
          for (let d = 0; d < dim; d++) slab[out + d * blockRows + r] = rows[src + d] as number;
        }
      }
      const part = slab.subarray(0, inBatch * blockElements);
      // writeBuffer moves whole 4-byte words: an odd count of halves gets one zero half more.
      const data = storage === 'f16' ? toHalfArray(part.length % 2 ? padOne(part) : part) : part;
      ctx.device.queue.writeBuffer(buffer, b0 * blockElements * elementBytes, data.buffer, data.byteOffset, data.byteLength);
    }
    chunks.push({ buffer, baseRow, rows: count, stride });
    totalBlocks += stride / blockRows;
  }
  return {
    size,
    dim,
    storage,
    tile,
    chunks,
    totalBlocks,
    destroy() {
      for (const chunk of chunks) chunk.buffer.destroy();
    },
  };
}

/** GPU buffers of one nearest() call, released by `releaseNearest` after the submit that uses them. */
export interface NearestBuffers {
  queriesT: GPUBuffer;
  invNorm: GPUBuffer;
  partialDot: GPUBuffer;
  partialRow: GPUBuffer;
  /** [N, 2] u32: row (0xffffffff for a non-finite query), score bits. */
  result: GPUBuffer;
}

/** Records the three passes for queries [N, D] (f32, row-major, in `queries`) against the codebook. */
export function recordNearest(
  ctx: GpuContext,
  rec: CommandRecorder,
  codebook: GpuCodebook,
  queries: GPUBuffer,
  count: number,
): NearestBuffers {
  positiveInteger('N', count);
  const { dim, tile } = codebook;
  if (queries.size < count * dim * 4) {
    throw new InvalidInputError(`vq_nearest: queries buffer holds ${queries.size} bytes, expected N·D·4 = ${count * dim * 4}`);
  }
  const limits = ctx.info.limits;
  const queryVecs = tile.queryVecs ?? chooseQueryVecs(count, MAX_QUERY_VECS);
  const queryTile = 4 * queryVecs;
  const queryPad = Math.ceil(count / queryTile) * queryTile;
  const queryGroups = queryPad / queryTile;
  const bindingLimit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const transientBytes = Math.max(queryPad * dim * 4, queryPad * codebook.totalBlocks * 4);
  if (transientBytes > bindingLimit) throw new GpuLimitError('maxStorageBufferBindingSize', transientBytes, bindingLimit);
  if (queryGroups > limits.maxComputeWorkgroupsPerDimension || count > limits.maxComputeWorkgroupsPerDimension) {
    throw new GpuLimitError('maxComputeWorkgroupsPerDimension', Math.max(queryGroups, count), limits.maxComputeWorkgroupsPerDimension);
  }

  const storageUsage = GPUBufferUsage.STORAGE;
  const buffers: NearestBuffers = {
    queriesT: ctx.pool.acquire(queryPad * dim * 4, storageUsage, 'vq_nearest.queriesT'),
    invNorm: ctx.pool.acquire(queryPad * 4, storageUsage, 'vq_nearest.invNorm'),
    partialDot: ctx.pool.acquire(queryPad * codebook.totalBlocks * 4, storageUsage, 'vq_nearest.partialDot'),
    partialRow: ctx.pool.acquire(queryPad * codebook.totalBlocks * 4, storageUsage, 'vq_nearest.partialRow'),
    result: ctx.pool.acquire(count * 8, storageUsage | GPUBufferUsage.COPY_SRC, 'vq_nearest.result'),
  };

  rec.dispatch({
    kernel: vqPrepareKernel,
    spec: { constants: { WORKGROUP_SIZE: SMALL_WORKGROUP } },
    uniforms: { dim, queries: count, queryPad },
    bindings: [queries, buffers.queriesT, buffers.invNorm],
    workgroups: [Math.ceil(queryPad / SMALL_WORKGROUP)],
  });
  const blockRows = tile.workgroupSize * tile.rows;
  const spec = {
    storage: codebook.storage,
    constants: { WORKGROUP_SIZE: tile.workgroupSize, ROWS: tile.rows, QUERY_VECS: queryVecs },
  };
  let blockBase = 0;
  for (const chunk of codebook.chunks) {
    const blocksX = chunk.stride / blockRows;
    const [x, y] = foldWorkgroups(blocksX, limits.maxComputeWorkgroupsPerDimension);
    rec.dispatch({
      kernel: vqPartialKernel,
      spec,
      uniforms: {
        dim,
        queryPad,
        chunkRows: chunk.rows,
        baseRow: chunk.baseRow,
        blockBase,
        blocksX,
        totalBlocks: codebook.totalBlocks,
      },
      bindings: [chunk.buffer, buffers.queriesT, buffers.partialDot, buffers.partialRow],
      workgroups: [x, y, queryGroups],
    });
    blockBase += blocksX;
  }
  rec.dispatch({
    kernel: vqReduceKernel,
    spec: { constants: { WORKGROUP_SIZE: SMALL_WORKGROUP } },
    uniforms: { queries: count, totalBlocks: codebook.totalBlocks },
    bindings: [buffers.partialDot, buffers.partialRow, buffers.invNorm, buffers.result],
    workgroups: [count],
  });
  return buffers;
}

/** Returns the buffers of `recordNearest` to the pool (after the submit that used them). */
export function releaseNearest(ctx: GpuContext, buffers: NearestBuffers): void {
  for (const buffer of Object.values(buffers)) ctx.pool.release(buffer);
}

/** Turns the [N, 2] u32 result into indices and scores; a non-finite query becomes InvalidInputError. */
export function decodeNearest(data: ArrayBuffer, count: number): NearestResult {
  const words = new Uint32Array(data, 0, count * 2);
  const floats = new Float32Array(data, 0, count * 2);
  const indices = new Uint32Array(count);
  const scores = new Float32Array(count);
  for (let q = 0; q < count; q++) {
    const row = words[2 * q] as number;
    if (row === NOT_FINITE) throw new InvalidInputError(`vq_nearest: query ${q} contains NaN or Infinity`);
    indices[q] = row;
    scores[q] = floats[2 * q + 1] as number;
  }
  return { indices, scores };
}

/** Nearest codebook row for each query; queries [N, D] as a Float32Array (checked on the CPU) or as an
 *  f32 GPU buffer (checked in the kernel). */
export async function nearest(
  ctx: GpuContext,
  codebook: GpuCodebook,
  queries: Float32Array | GPUBuffer,
  count: number,
): Promise<NearestResult> {
  positiveInteger('N', count);
  let input: GPUBuffer;
  if (queries instanceof Float32Array) {
    if (queries.length !== count * codebook.dim) {
      throw new InvalidInputError(
        `vq_nearest: got ${queries.length} query values, expected N·D = ${count}·${codebook.dim} (D of the codebook)`,
      );
    }
    for (let i = 0; i < queries.length; i++) {
      if (!Number.isFinite(queries[i] as number)) {
        throw new InvalidInputError(`vq_nearest: query ${Math.floor(i / codebook.dim)} contains NaN or Infinity`);
      }
    }
    input = ctx.upload(queries, GPUBufferUsage.STORAGE, 'vq_nearest.queries');
  } else {
    input = queries;
  }
  const rec = ctx.recorder('vq_nearest');
  const buffers = recordNearest(ctx, rec, codebook, input, count);
  const staging = rec.copyToStaging(buffers.result, 0, count * 8);
  releaseNearest(ctx, buffers);
  rec.submit();
  const data = await ctx.mapStaging(staging, count * 8);
  if (input !== queries) input.destroy();
  return decodeNearest(data, count);
}

export interface NearestReference extends NearestResult {
  /** [N] best dot minus second-best dot (float64); small gaps are float32 near-ties. */
  gaps: Float64Array;
}

/** CPU reference in float64: same tie rule (lowest index) and score (dot / max(|q|, 1e-12)). */
export function nearestReference(
  rows: Float32Array,
  size: number,
  dim: number,
  queries: Float32Array,
  count: number,
): NearestReference {
  const indices = new Uint32Array(count);
  const scores = new Float32Array(count);
  const gaps = new Float64Array(count);
  for (let q = 0; q < count; q++) {
    const qBase = q * dim;
    let sumSq = 0;
    for (let d = 0; d < dim; d++) sumSq += (queries[qBase + d] as number) ** 2;
    let best = -Infinity;
    let second = -Infinity;
    let bestRow = 0;
    for (let k = 0; k < size; k++) {
      const kBase = k * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += (queries[qBase + d] as number) * (rows[kBase + d] as number);
      if (dot > best) {
        second = best;
        best = dot;
        bestRow = k;
      } else if (dot > second) {
        second = dot;
      }
    }
    indices[q] = bestRow;
    scores[q] = best / Math.max(Math.sqrt(sumSq), 1e-12);
    gaps[q] = best - second;
  }
  return { indices, scores, gaps };
}
