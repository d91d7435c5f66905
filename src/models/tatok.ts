// TA-Tok on the GPU (TAR_SPEC §1): TatokEncoder turns an image into codebook indices — preprocess (image.ts),
// encoder graph, scale-adaptive average pooling (WGSL), project graph, cosine nearest codebook row (WGSL) —
// with every intermediate on the GPU (ORT outputs as gpu-buffers, fed on with Tensor.fromGpuBuffer) and only
// the indices read back. TatokDecoder turns indices into the decoder's features: rows of the decode table and
// the scale's position rows (gathered on the CPU) → decoder graph → [N, decoderHiddenSize].
// Not here: the stochastic (multinomial) assignment (the port uses argmax, TAR_SPEC §1.6), batching of images.
import { InvalidArgumentError, InvalidInputError, ManifestError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import { recordAvgPool } from '../kernels/avg-pool.ts';
import { createCodebook, decodeNearest, recordNearest, releaseNearest, type GpuCodebook } from '../kernels/vq-nearest.ts';
import { externalDataPaths, pooledGrid, type TatokComponent, type TatokConfig } from '../model/manifest.ts';
import type { ModelSource } from '../model/source.ts';
import { createSharedSession, ort, runSession, type SessionOptions } from '../ort/session.ts';
import { imageToPixelValues, type ImageInput, type PreprocessOptions } from './image.ts';
import { gatherRows, readTable, tableAsFloat32, tableSlice, type Table } from './tables.ts';
import { checkViews, shiftedPixels, VIEW_SHIFTS } from './views.ts';

export type { ImageInput } from './image.ts';

type GraphRole = 'encoder' | 'project' | 'decoder';

/** The graph I/O names of docs/model-format.md. */
/** The pool scale pictures are read at for understanding (chat, imagine's self-check): 1, unpooled, as Tar does. */
export const UNDERSTANDING_SCALE = 1;

const GRAPH_IO: Record<GraphRole, { inputs: string[]; output: string }> = {
  encoder: { inputs: ['pixel_values'], output: 'features' },
  project: { inputs: ['features'], output: 'codes' },
  decoder: { inputs: ['rows', 'positions'], output: 'features' },
};

function tatokComponent(source: ModelSource): TatokComponent {
  const component = source.manifest.components.tatok;
  if (!component) throw new ManifestError(['components.tatok: the package has no TA-Tok component']);
  return component;
}

/** Creates the ORT session of one tatok graph (with its external data) on the context's device. */
async function loadGraph(
  ctx: GpuContext,
  source: ModelSource,
  component: TatokComponent,
  role: GraphRole,
  options: SessionOptions,
  signal?: AbortSignal,
): Promise<ort.InferenceSession> {
  const files = component.files as Record<string, string>;
  const externalData = await Promise.all(
    externalDataPaths(files, role).map(async (path) => ({ path: path.slice(path.lastIndexOf('/') + 1), data: await source.file(path, signal) })),
  );
  const session = await createSharedSession(ctx.device, await source.file(component.files[role], signal), { ...options, externalData });
  const io = GRAPH_IO[role];
  const missing = [...io.inputs.filter((n) => !session.inputNames.includes(n)), ...(session.outputNames.includes(io.output) ? [] : [io.output])];
  if (missing.length > 0) {
    await session.release();
    throw new ManifestError([
      `components.tatok.files.${role}: the graph lacks ${missing.join(', ')} (it has inputs ${session.inputNames.join(', ')}; outputs ${session.outputNames.join(', ')})`,
    ]);
  }
  return session;
}

async function loadTable(source: ModelSource, component: TatokComponent, role: 'codebook' | 'decodeTable' | 'decoderPositions', signal?: AbortSignal): Promise<Table> {
  return readTable(await source.file(component.files[role], signal), component.tables[role], `tatok ${role}`);
}

/** Index of `scale` in config.poolScales, or InvalidArgumentError. */
function scaleIndex(config: TatokConfig, scale: number): number {
  const i = config.poolScales.indexOf(scale);
  if (i < 0) throw new InvalidArgumentError(`tatok: pool scale ${scale} is not one of ${config.poolScales.join(', ')}`);
  return i;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason;
}

function checkDims(role: GraphRole, tensor: ort.Tensor, expected: number[]): void {
  if (tensor.dims.length !== expected.length || tensor.dims.some((d, i) => d !== expected[i])) {
    throw new ManifestError([`components.tatok.config: the ${role} graph gave [${tensor.dims.join(', ')}], the config implies [${expected.join(', ')}]`]);
  }
}

/** Runs calls one at a time (an ORT session runs one call at a time). */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(call: () => Promise<T>): Promise<T> {
    const result = this.tail.then(call, call);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export class TatokEncoder {
  private readonly serial = new Serial();

  private constructor(
    private readonly ctx: GpuContext,
    readonly config: TatokConfig,
    private readonly encoder: ort.InferenceSession,
    private readonly project: ort.InferenceSession,
    private readonly codebook: GpuCodebook,
  ) {}

  static async load(ctx: GpuContext, source: ModelSource, signal?: AbortSignal): Promise<TatokEncoder> {
    const component = tatokComponent(source);
    const { codebookSize, codeDim } = component.config;
    const table = await loadTable(source, component, 'codebook', signal);
    if (table.rows !== codebookSize || table.cols !== codeDim) {
      throw new ManifestError([`components.tatok.tables.codebook: shape [${table.rows}, ${table.cols}], config [${codebookSize}, ${codeDim}]`]);
    }
    const codebook = createCodebook(ctx, tableAsFloat32(table), codebookSize, codeDim);
    const sessions: ort.InferenceSession[] = [];
    try {
      const gpuOut: SessionOptions = { preferredOutputLocation: 'gpu-buffer' };
      sessions.push(await loadGraph(ctx, source, component, 'encoder', gpuOut, signal));
      sessions.push(await loadGraph(ctx, source, component, 'project', gpuOut, signal));
    } catch (error) {
      for (const s of sessions) await s.release();
      codebook.destroy();
      throw error;
    }
    return new TatokEncoder(ctx, component.config, sessions[0] as ort.InferenceSession, sessions[1] as ort.InferenceSession, codebook);
  }

  /** RGBA or an encoded image → pixel_values [1, 3, S, S] in [-1, 1] (bilinear squash, antialias off). */
  preprocess(image: ImageInput, options?: PreprocessOptions): Promise<Float32Array> {
    return imageToPixelValues(this.ctx, image, this.config.imageSize, options);
  }

  /** → codebook indices [grid(scale)²], raster order (scale = pool_scale, one of config.poolScales). */
  async encode(image: ImageInput, scale: number, signal?: AbortSignal): Promise<Uint32Array> {
    scaleIndex(this.config, scale);
    const pixelValues = await this.preprocess(image);
    return this.encodePixels(pixelValues, scale, signal);
  }

  /** → codebook indices of each of the first `views` test-time views (src/models/views.ts), view 0 the picture
   *  itself: [views][grid(scale)²]. */
  async encodeViews(image: ImageInput, scale: number, views: number, signal?: AbortSignal): Promise<Uint32Array[]> {
    scaleIndex(this.config, scale);
    checkViews(views);
    const pixelValues = await this.preprocess(image);
    const out: Uint32Array[] = [];
    for (const shift of VIEW_SHIFTS.slice(0, views)) out.push(await this.encodePixels(shiftedPixels(pixelValues, this.config.imageSize, shift), scale, signal));
    return out;
  }

  /** pixel_values [1, 3, S, S] → codebook indices [grid(scale)²]. */
  encodePixels(pixelValues: Float32Array, scale: number, signal?: AbortSignal): Promise<Uint32Array> {
    const { imageSize: s, gridSize: grid, encoderHiddenSize: hidden, codeDim } = this.config;
    scaleIndex(this.config, scale);
    if (pixelValues.length !== 3 * s * s) {
      throw new InvalidInputError(`tatok: pixel_values has ${pixelValues.length} values, expected 3·${s}·${s}`);
    }
    const p = pooledGrid(this.config, scale);
    const tokens = p * p;
    return this.serial.run(async () => {
      throwIfAborted(signal);
      const { ctx } = this;
      const held: ort.Tensor[] = [];
      let pooled: GPUBuffer | null = null;
      try {
        // pixel_values [1,3,S,S] → features [1, grid², hidden] (GPU)
        const features = (await runSession(this.encoder, { pixel_values: new ort.Tensor('float32', pixelValues, [1, 3, s, s]) })).features as ort.Tensor;
        held.push(features);
        checkDims('encoder', features, [1, grid * grid, hidden]);
        throwIfAborted(signal);
        // → pooled [1, p², hidden] (GPU)
        let projectInput = features;
        if (scale !== 1) {
          const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
          pooled = ctx.pool.acquire(tokens * hidden * 4, usage, 'tatok.pooled');
          const rec = ctx.recorder('tatok.pool');
          recordAvgPool(ctx, rec, { batch: 1, height: grid, width: grid, channels: hidden, scale }, features.gpuBuffer as GPUBuffer, pooled);
          rec.submit();
          projectInput = ort.Tensor.fromGpuBuffer(pooled, { dataType: 'float32', dims: [1, tokens, hidden] });
        }
        // → codes [1, p², codeDim], unit rows (GPU)
        const codes = (await runSession(this.project, { features: projectInput })).codes as ort.Tensor;
        held.push(codes);
        checkDims('project', codes, [1, tokens, codeDim]);
        throwIfAborted(signal);
        // → nearest codebook row per code; only [p², 2] u32 comes back
        const rec = ctx.recorder('tatok.nearest');
        const buffers = recordNearest(ctx, rec, this.codebook, codes.gpuBuffer as GPUBuffer, tokens);
        const staging = rec.copyToStaging(buffers.result, 0, tokens * 8);
        releaseNearest(ctx, buffers);
        rec.submit();
        return decodeNearest(await ctx.mapStaging(staging, tokens * 8), tokens).indices;
      } finally {
        if (pooled) ctx.pool.release(pooled);
        for (const t of held) t.dispose();
      }
    });
  }

  /** Frees the sessions and the codebook. */
  async release(): Promise<void> {
    await this.serial.run(async () => {
      await this.encoder.release();
      await this.project.release();
      this.codebook.destroy();
    });
  }
}

export class TatokDecoder {
  private readonly serial = new Serial();
  private readonly positions = new Map<number, Float32Array>();

  private constructor(
    readonly config: TatokConfig,
    private readonly decoder: ort.InferenceSession,
    private readonly decodeTable: Table,
    private readonly positionTable: Table,
  ) {}

  static async load(ctx: GpuContext, source: ModelSource, signal?: AbortSignal): Promise<TatokDecoder> {
    const component = tatokComponent(source);
    const { codebookSize, codeDim, decoderHiddenSize } = component.config;
    const decodeTable = await loadTable(source, component, 'decodeTable', signal);
    if (decodeTable.rows !== codebookSize || decodeTable.cols !== codeDim) {
      throw new ManifestError([`components.tatok.tables.decodeTable: shape [${decodeTable.rows}, ${decodeTable.cols}], config [${codebookSize}, ${codeDim}]`]);
    }
    const positionTable = await loadTable(source, component, 'decoderPositions', signal);
    if (positionTable.cols !== decoderHiddenSize) {
      throw new ManifestError([`components.tatok.tables.decoderPositions: ${positionTable.cols} columns, decoderHiddenSize is ${decoderHiddenSize}`]);
    }
    const decoder = await loadGraph(ctx, source, component, 'decoder', {}, signal);
    return new TatokDecoder(component.config, decoder, decodeTable, positionTable);
  }

  /** indices [N] with N = grid(scale)² (raster order) → features [N, decoderHiddenSize] (f32). */
  decode(indices: Uint32Array, scale: number, signal?: AbortSignal): Promise<Float32Array> {
    const { config } = this;
    const which = scaleIndex(config, scale);
    const p = config.decoderPositionGrids[which] as number;
    const tokens = p * p;
    if (indices.length !== tokens) {
      throw new InvalidInputError(`tatok decode: ${indices.length} indices, pool scale ${scale} needs ${p}² = ${tokens}`);
    }
    for (let i = 0; i < indices.length; i++) {
      if ((indices[i] as number) >= config.codebookSize) {
        throw new InvalidInputError(`tatok decode: index ${indices[i]} at ${i} is outside the codebook (size ${config.codebookSize})`);
      }
    }
    return this.serial.run(async () => {
      throwIfAborted(signal);
      const hidden = config.decoderHiddenSize;
      const rows = gatherRows(this.decodeTable, indices); // [N, codeDim]
      const out = await runSession(this.decoder, {
        rows: new ort.Tensor('float32', rows, [1, tokens, config.codeDim]),
        positions: new ort.Tensor('float32', this.positionsOf(which, tokens), [tokens, hidden]),
      });
      const features = out.features as ort.Tensor;
      try {
        checkDims('decoder', features, [1, tokens, hidden]);
        return new Float32Array(features.data as Float32Array);
      } finally {
        for (const t of Object.values(out)) t.dispose();
      }
    });
  }

  /** The position rows of scale number `which` (poolScales order): [p², decoderHiddenSize]. */
  private positionsOf(which: number, tokens: number): Float32Array {
    let rows = this.positions.get(which);
    if (!rows) {
      const first = this.config.decoderPositionOffsets[which] as number;
      if (first + tokens > this.positionTable.rows) {
        throw new ManifestError([`components.tatok.tables.decoderPositions: ${this.positionTable.rows} rows, scale ${which} needs rows ${first}…${first + tokens - 1}`]);
      }
      rows = tableSlice(this.positionTable, first, tokens);
      this.positions.set(which, rows);
    }
    return rows;
  }

  async release(): Promise<void> {
    await this.serial.run(() => this.decoder.release());
  }
}
