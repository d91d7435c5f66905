// The model package manifest (docs/model-format.md, format version 1): its TypeScript types and
// `parseManifest`, which checks a parsed manifest.json against the format before the engine trusts any
// number in it. The Python writer is tools/convert/package.py. Every problem found is reported (not only
// the first) in one ManifestError, each as `<field path>: <what is wrong>`.
import { ManifestError } from '../errors.ts';
import { MAX_VIEWS } from '../models/views.ts';

export const MANIFEST_FORMAT = 'tar-webgpu-package';
export const MANIFEST_FORMAT_VERSION = 1;

export type Storage = 'float32' | 'float16';
export type ComponentName = 'tatok' | 'llm' | 'ardtok' | 'vq';
export const COMPONENT_NAMES: readonly ComponentName[] = ['tatok', 'llm', 'ardtok', 'vq'];
/** A guidance scale that leaves the conditional logits as they are: l_u + 1·(l_c − l_u) = l_c. */
export const NO_GUIDANCE = 1;
/** sampling.textToImage.candidates when a manifest leaves it out: one picture per image, no self-check. */
export const ONE_CANDIDATE = 1;
/** sampling.chat.views when a manifest leaves it out: each picture read once, as it is. */
export const ONE_VIEW = 1;

export interface FileEntry {
  /** Relative to the package folder, `/`-separated, no leading `/`, no `..`. */
  path: string;
  bytes: number;
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
}

/** A raw little-endian row-major table (`.bin`, no header). */
export interface TableSpec {
  dtype: Storage;
  shape: number[];
}

/** Roles → package-relative paths. An ONNX graph's external data files (split so that none passes 2 GB) have
 *  the roles `<role>Data`, `<role>Data1`, `<role>Data2`, … with paths `<graph>.data`, `<graph>.data1`, … */
export type ComponentFiles<Role extends string> = Record<Role, string> & Record<string, string>;

export interface TatokConfig {
  imageSize: number;
  patchSize: number;
  /** floor(imageSize / patchSize). */
  gridSize: number;
  encoderHiddenSize: number;
  encoderLayers: number;
  encoderHeads: number;
  encoderIntermediateSize: number;
  layerNormEps: number;
  codebookSize: number;
  codeDim: number;
  /** pool scale s → grid floor(gridSize / s), scale token <S{s-1}>. */
  poolScales: number[];
  decoderHiddenSize: number;
  decoderLayers: number;
  decoderHeads: number;
  decoderIntermediateSize: number;
  decoderLayerNormEps: number;
  /** Pooled grid p = floor(gridSize / s) of each pool scale, poolScales order. */
  decoderPositionGrids: number[];
  /** First row of each scale's p² rows in the decoderPositions table. */
  decoderPositionOffsets: number[];
  /** The checkpoint's args.pool_scale; one of poolScales. */
  defaultPoolScale: number;
  preprocess: { resize: string; antialias: boolean; rescale: string };
}

export interface TatokComponent {
  config: TatokConfig;
  files: ComponentFiles<'encoder' | 'project' | 'codebook' | 'decodeTable' | 'decoder' | 'decoderPositions'>;
  tables: Record<'codebook' | 'decodeTable' | 'decoderPositions', TableSpec> & Record<string, TableSpec>;
}

export interface LlmConfig {
  hiddenSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediateSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  vocabSize: number;
  tieWordEmbeddings: boolean;
  maxPositionEmbeddings: number;
}

export interface LlmTokens {
  imageStartTag: number;
  imageEndTag: number;
  scaleTokenBase: number;
  scaleTokenCount: number;
  imageTokenBase: number;
  imageTokenCount: number;
  imStart: number;
  imEnd: number;
  eos: number[];
  pad: number;
}

export interface LlmComponent {
  config: LlmConfig;
  tokens: LlmTokens;
  systemPrompt: string;
  files: ComponentFiles<'model' | 'tokenizer'>;
  tables?: Record<string, TableSpec>;
}

export interface ArdtokConfig {
  name: string;
  modelType: string;
  dim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediateSize: number;
  normEps: number;
  vocabSize: number;
  condDim: number;
  /** Image tokens generated = (imageSize / downsample)². */
  maxSeqLen: number;
  /** abs_pe rows = maxSeqLen + maxPrefixLen - 1. */
  maxPrefixLen: number;
  /** sqrt(maxSeqLen): side of the VQ code grid. */
  gridSize: number;
  imageSize: number;
}

export interface ArdtokComponent {
  config: ArdtokConfig;
  files: ComponentFiles<'conditionEmbed' | 'tokenEmbed' | 'model'>;
  tables?: Record<string, TableSpec>;
}

export interface VqConfig {
  codebookSize: number;
  codeDim: number;
  downsample: number;
  zChannels: number;
}

export interface VqComponent {
  config: VqConfig;
  files: ComponentFiles<'decoder'>;
  tables?: Record<string, TableSpec>;
}

export interface Components {
  tatok?: TatokComponent;
  llm?: LlmComponent;
  ardtok?: ArdtokComponent;
  vq?: VqComponent;
}

export interface Sampling {
  /** cfgScale: classifier-free guidance of the image tokens against a negative prompt (1 = none, Tar's own
   *  sampling; a manifest may leave it out). cfgMinP (optional, in (0, 1]): with guidance, only tokens whose
   *  conditional probability is at least this share of the most probable one's are drawn. candidates (≥ 1;
   *  absent: 1): pictures drawn per image, the one kept being the one the model reads back as likeliest to be
   *  described by the prompt when asked selfCheckQuestion (needed for candidates > 1; absent: no self-check). */
  textToImage: {
    temperature: number;
    topP: number;
    topK: number;
    cfgScale: number;
    cfgMinP?: number;
    candidates: number;
    selfCheckQuestion?: string;
  };
  /** cfgMinP (optional, in (0, 1]): with guidance, only the codes whose conditional probability is at least this
   *  share of the most probable one's are drawn. drawings (≥ 1; absent: 1): the de-tokenizer's drawings of each
   *  picture's image tokens, the one the TA-Tok encoder reads back as the most of them being kept (imagine's
   *  `drawings`). */
  detokenizer: { cfgScale: number; cfgMinP?: number; temperature: number; topK: number; topP: number; drawings?: number };
  /** views (1 to MAX_VIEWS; absent: 1): test-time views of each picture (src/models/views.ts) an answer is read
   *  from. */
  chat: { temperature: number; topP: number; topK: number; maxNewTokens: number; repetitionPenalty: number; views: number };
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: typeof MANIFEST_FORMAT_VERSION;
  modelId: string;
  storage: Storage;
  files: FileEntry[];
  components: Components;
  sampling: Sampling;
}

/** Bytes per element of a table dtype. */
export function dtypeBytes(dtype: Storage): number {
  return dtype === 'float16' ? 2 : 4;
}

/** Byte length a table of this spec must have. */
export function tableByteLength(table: TableSpec): number {
  return table.shape.reduce((a, b) => a * b, 1) * dtypeBytes(table.dtype);
}

/** The file entry of `path`, or undefined. */
export function findFile(manifest: Manifest, path: string): FileEntry | undefined {
  return manifest.files.find((f) => f.path === path);
}

/** Token grid side of a TA-Tok pool scale: floor(gridSize / s). */
export function pooledGrid(config: Pick<TatokConfig, 'gridSize'>, scale: number): number {
  return Math.floor(config.gridSize / scale);
}

// ---- validation -------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Collects issues; each getter returns the value when it is valid, or undefined after recording why not. */
class Checker {
  readonly issues: string[] = [];

  fail(path: string, problem: string): undefined {
    this.issues.push(`${path}: ${problem}`);
    return undefined;
  }

  object(obj: Json, key: string, path: string): Json | undefined {
    const v = obj[key];
    return isObject(v) ? v : this.fail(path, `expected an object, got ${describe(v)}`);
  }

  string(obj: Json, key: string, path: string, allowEmpty = false): string | undefined {
    const v = obj[key];
    if (typeof v !== 'string') return this.fail(path, `expected a string, got ${describe(v)}`);
    if (!allowEmpty && v.length === 0) return this.fail(path, 'expected a non-empty string');
    return v;
  }

  boolean(obj: Json, key: string, path: string): boolean | undefined {
    const v = obj[key];
    return typeof v === 'boolean' ? v : this.fail(path, `expected true or false, got ${describe(v)}`);
  }

  positiveInt(obj: Json, key: string, path: string): number | undefined {
    const v = obj[key];
    return isInt(v) && v > 0 ? v : this.fail(path, `expected a positive integer, got ${describe(v)}`);
  }

  nonNegativeInt(obj: Json, key: string, path: string): number | undefined {
    const v = obj[key];
    return isInt(v) && v >= 0 ? v : this.fail(path, `expected a non-negative integer, got ${describe(v)}`);
  }

  positiveNumber(obj: Json, key: string, path: string): number | undefined {
    const v = obj[key];
    return isFiniteNumber(v) && v > 0 ? v : this.fail(path, `expected a finite number > 0, got ${describe(v)}`);
  }

  nonNegativeNumber(obj: Json, key: string, path: string): number | undefined {
    const v = obj[key];
    return isFiniteNumber(v) && v >= 0 ? v : this.fail(path, `expected a finite number ≥ 0, got ${describe(v)}`);
  }

  probability(obj: Json, key: string, path: string): number | undefined {
    const v = obj[key];
    return isFiniteNumber(v) && v > 0 && v <= 1 ? v : this.fail(path, `expected a number in (0, 1], got ${describe(v)}`);
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Why `path` is not a valid package-relative path, or null when it is. */
/** The role of part `part` (0, 1, …) of an ONNX graph's external data: `<role>Data`, `<role>Data1`, … */
export function externalDataRole(graphRole: string, part: number): string {
  return `${graphRole}Data${part || ''}`;
}

/** The external data paths of the graph with role `graphRole`, in part order (empty when weights are inline). */
export function externalDataPaths(files: Record<string, string>, graphRole: string): string[] {
  const paths: string[] = [];
  for (let part = 0; files[externalDataRole(graphRole, part)] !== undefined; part++) {
    paths.push(files[externalDataRole(graphRole, part)] as string);
  }
  return paths;
}

export function packagePathProblem(path: string): string | null {
  if (path.length === 0) return 'is empty';
  if (path.startsWith('/')) return 'must be relative (starts with "/")';
  if (path.includes('\\')) return 'must use "/" as separator (contains "\\")';
  if (/^[a-zA-Z]:/.test(path)) return 'must be relative (has a drive letter)';
  const parts = path.split('/');
  if (parts.includes('..')) return 'must not contain ".."';
  if (parts.some((p) => p === '' || p === '.')) return 'has an empty or "." segment';
  return null;
}

function checkFiles(c: Checker, raw: unknown): Map<string, FileEntry> {
  const byPath = new Map<string, FileEntry>();
  if (!Array.isArray(raw)) {
    c.fail('files', `expected an array of file entries, got ${describe(raw)}`);
    return byPath;
  }
  raw.forEach((entry: unknown, i) => {
    const at = `files[${i}]`;
    if (!isObject(entry)) {
      c.fail(at, `expected an object, got ${describe(entry)}`);
      return;
    }
    const path = c.string(entry, 'path', `${at}.path`);
    let pathOk = path !== undefined;
    if (path !== undefined) {
      const problem = packagePathProblem(path);
      if (problem) {
        c.fail(`${at}.path`, `${JSON.stringify(path)} ${problem}`);
        pathOk = false;
      } else if (path === 'manifest.json') {
        c.fail(`${at}.path`, 'the manifest does not list itself');
        pathOk = false;
      } else if (byPath.has(path)) {
        c.fail(`${at}.path`, `${JSON.stringify(path)} is listed twice`);
        pathOk = false;
      }
    }
    const bytes = c.nonNegativeInt(entry, 'bytes', `${at}.bytes`);
    const sha = entry.sha256;
    const shaOk = typeof sha === 'string' && SHA256.test(sha);
    if (!shaOk) c.fail(`${at}.sha256`, `expected 64 lower-case hex digits, got ${describe(sha)}`);
    // Listed even when its size or hash is bad, so that the component checks do not report it again.
    if (pathOk) byPath.set(path as string, { path: path as string, bytes: bytes ?? Number.NaN, sha256: shaOk ? sha : '' });
  });
  return byPath;
}

interface ComponentRules {
  roles: readonly string[];
  tables: readonly string[];
}

const RULES: Record<ComponentName, ComponentRules> = {
  tatok: {
    roles: ['encoder', 'project', 'codebook', 'decodeTable', 'decoder', 'decoderPositions'],
    tables: ['codebook', 'decodeTable', 'decoderPositions'],
  },
  llm: { roles: ['model', 'tokenizer'], tables: [] },
  ardtok: { roles: ['conditionEmbed', 'tokenEmbed', 'model'], tables: [] },
  vq: { roles: ['decoder'], tables: [] },
};

/** files (roles → listed paths) and tables (dtype/shape matching the listed byte size). */
function checkComponentFiles(
  c: Checker,
  comp: Json,
  at: string,
  rules: ComponentRules,
  listed: Map<string, FileEntry>,
): Map<string, TableSpec> {
  const tables = new Map<string, TableSpec>();
  const files = c.object(comp, 'files', `${at}.files`);
  if (files) {
    for (const role of rules.roles) {
      if (!(role in files)) c.fail(`${at}.files.${role}`, 'required role is missing');
    }
    for (const [role, value] of Object.entries(files)) {
      const rp = `${at}.files.${role}`;
      if (typeof value !== 'string') {
        c.fail(rp, `expected a path, got ${describe(value)}`);
        continue;
      }
      const problem = packagePathProblem(value);
      if (problem) c.fail(rp, `${JSON.stringify(value)} ${problem}`);
      else if (!listed.has(value)) c.fail(rp, `${JSON.stringify(value)} is not in the top-level files list`);
      if (value.endsWith('.onnx')) {
        for (let part = 0; files[externalDataRole(role, part)] !== undefined; part++) {
          const data = files[externalDataRole(role, part)];
          const expected = `${value}.data${part || ''}`;
          if (typeof data === 'string' && data !== expected) {
            c.fail(`${at}.files.${externalDataRole(role, part)}`, `expected ${JSON.stringify(expected)}, got ${describe(data)}`);
          }
        }
      }
    }
  }
  const rawTables = comp.tables;
  if (rawTables === undefined && rules.tables.length === 0) return tables;
  const t = c.object(comp, 'tables', `${at}.tables`);
  if (!t) return tables;
  for (const role of rules.tables) {
    if (!(role in t)) c.fail(`${at}.tables.${role}`, 'required table is missing');
  }
  for (const [role, spec] of Object.entries(t)) {
    const tp = `${at}.tables.${role}`;
    if (!isObject(spec)) {
      c.fail(tp, `expected {dtype, shape}, got ${describe(spec)}`);
      continue;
    }
    const dtype = spec.dtype;
    const dtypeOk = dtype === 'float32' || dtype === 'float16';
    if (!dtypeOk) c.fail(`${tp}.dtype`, `expected "float32" or "float16", got ${describe(dtype)}`);
    const shape = spec.shape;
    const shapeOk = Array.isArray(shape) && shape.length > 0 && shape.every((d) => isInt(d) && d > 0);
    if (!shapeOk) c.fail(`${tp}.shape`, `expected a non-empty array of positive integers, got ${describe(shape)}`);
    const path = files?.[role];
    if (typeof path !== 'string') {
      c.fail(tp, `table has no file: ${at}.files.${role} is missing`);
      continue;
    }
    if (!dtypeOk || !shapeOk) continue;
    const table: TableSpec = { dtype, shape: shape as number[] };
    tables.set(role, table);
    const entry = listed.get(path);
    const expected = tableByteLength(table);
    if (entry && Number.isInteger(entry.bytes) && entry.bytes !== expected) {
      c.fail(tp, `${dtype} [${table.shape.join(', ')}] needs ${expected} bytes, but ${path} has ${entry.bytes}`);
    }
  }
  return tables;
}

function expectShape(c: Checker, tables: Map<string, TableSpec>, at: string, role: string, expected: number[]): void {
  const t = tables.get(role);
  if (t && (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i]))) {
    c.fail(`${at}.tables.${role}.shape`, `expected [${expected.join(', ')}] from the config, got [${t.shape.join(', ')}]`);
  }
}

/** heads·headDim = hidden (Qwen2 and LLAMA-ABS both split the hidden size evenly), kvHeads divides heads. */
function checkHeads(c: Checker, cfg: Json, at: string, hiddenKey: string): void {
  const hidden = c.positiveInt(cfg, hiddenKey, `${at}.${hiddenKey}`);
  const heads = c.positiveInt(cfg, 'heads', `${at}.heads`);
  const kvHeads = c.positiveInt(cfg, 'kvHeads', `${at}.kvHeads`);
  const headDim = c.positiveInt(cfg, 'headDim', `${at}.headDim`);
  if (heads !== undefined && kvHeads !== undefined && heads % kvHeads !== 0) {
    c.fail(`${at}.kvHeads`, `${kvHeads} does not divide heads ${heads}`);
  }
  if (hidden !== undefined && heads !== undefined && headDim !== undefined && heads * headDim !== hidden) {
    c.fail(`${at}.headDim`, `heads ${heads} × headDim ${headDim} = ${heads * headDim}, but ${hiddenKey} is ${hidden}`);
  }
}

function checkTatok(c: Checker, comp: Json, at: string, listed: Map<string, FileEntry>): void {
  const tables = checkComponentFiles(c, comp, at, RULES.tatok, listed);
  const cfg = c.object(comp, 'config', `${at}.config`);
  if (!cfg) return;
  const p = `${at}.config`;
  const n = (k: string) => c.positiveInt(cfg, k, `${p}.${k}`);
  const imageSize = n('imageSize');
  const patchSize = n('patchSize');
  const gridSize = n('gridSize');
  const encoderHidden = n('encoderHiddenSize');
  n('encoderLayers');
  const encoderHeads = n('encoderHeads');
  n('encoderIntermediateSize');
  c.positiveNumber(cfg, 'layerNormEps', `${p}.layerNormEps`);
  const codebookSize = n('codebookSize');
  const codeDim = n('codeDim');
  const decoderHidden = n('decoderHiddenSize');
  n('decoderLayers');
  const decoderHeads = n('decoderHeads');
  n('decoderIntermediateSize');
  if (imageSize !== undefined && patchSize !== undefined && gridSize !== undefined) {
    if (gridSize !== Math.floor(imageSize / patchSize)) {
      c.fail(`${p}.gridSize`, `expected floor(imageSize ${imageSize} / patchSize ${patchSize}) = ${Math.floor(imageSize / patchSize)}, got ${gridSize}`);
    }
  }
  if (encoderHidden !== undefined && encoderHeads !== undefined && encoderHidden % encoderHeads !== 0) {
    c.fail(`${p}.encoderHeads`, `${encoderHeads} does not divide encoderHiddenSize ${encoderHidden}`);
  }
  if (decoderHidden !== undefined && decoderHeads !== undefined && decoderHidden % decoderHeads !== 0) {
    c.fail(`${p}.decoderHeads`, `${decoderHeads} does not divide decoderHiddenSize ${decoderHidden}`);
  }
  const scales = cfg.poolScales;
  let scalesOk = Array.isArray(scales) && scales.length > 0;
  if (!scalesOk) c.fail(`${p}.poolScales`, `expected a non-empty array of positive integers, got ${describe(scales)}`);
  else {
    (scales as unknown[]).forEach((s, i) => {
      if (!isInt(s) || s <= 0) {
        c.fail(`${p}.poolScales[${i}]`, `expected a positive integer, got ${describe(s)}`);
        scalesOk = false;
      } else if (gridSize !== undefined && s > gridSize) {
        c.fail(`${p}.poolScales[${i}]`, `scale ${s} leaves no token of a ${gridSize}×${gridSize} grid`);
        scalesOk = false;
      }
    });
    if (new Set(scales as unknown[]).size !== (scales as unknown[]).length) {
      c.fail(`${p}.poolScales`, 'has a repeated scale');
    }
  }
  c.positiveNumber(cfg, 'decoderLayerNormEps', `${p}.decoderLayerNormEps`);
  const defaultScale = n('defaultPoolScale');
  if (scalesOk) {
    const list = scales as number[];
    if (defaultScale !== undefined && !list.includes(defaultScale)) {
      c.fail(`${p}.defaultPoolScale`, `${defaultScale} is not one of poolScales [${list.join(', ')}]`);
    }
    if (gridSize !== undefined) {
      const grids = list.map((s) => Math.floor(gridSize / s));
      const offsets = grids.map((_, i) => grids.slice(0, i).reduce((sum, g) => sum + g * g, 0));
      const same = (v: unknown, want: number[]) => Array.isArray(v) && v.length === want.length && v.every((x, i) => x === want[i]);
      if (!same(cfg.decoderPositionGrids, grids)) {
        c.fail(`${p}.decoderPositionGrids`, `expected [${grids.join(', ')}] (floor(gridSize / s) per pool scale), got ${describe(cfg.decoderPositionGrids)}${Array.isArray(cfg.decoderPositionGrids) ? ` [${cfg.decoderPositionGrids.join(', ')}]` : ''}`);
      }
      if (!same(cfg.decoderPositionOffsets, offsets)) {
        c.fail(`${p}.decoderPositionOffsets`, `expected [${offsets.join(', ')}] (running sum of p²), got ${describe(cfg.decoderPositionOffsets)}${Array.isArray(cfg.decoderPositionOffsets) ? ` [${cfg.decoderPositionOffsets.join(', ')}]` : ''}`);
      }
    }
  }
  const pre = c.object(cfg, 'preprocess', `${p}.preprocess`);
  if (pre) {
    c.string(pre, 'resize', `${p}.preprocess.resize`);
    c.boolean(pre, 'antialias', `${p}.preprocess.antialias`);
    c.string(pre, 'rescale', `${p}.preprocess.rescale`);
  }
  if (codebookSize !== undefined && codeDim !== undefined) {
    expectShape(c, tables, at, 'codebook', [codebookSize, codeDim]);
    expectShape(c, tables, at, 'decodeTable', [codebookSize, codeDim]);
  }
  if (scalesOk && gridSize !== undefined && decoderHidden !== undefined) {
    const rows = (scales as number[]).reduce((sum, s) => sum + Math.floor(gridSize / s) ** 2, 0);
    expectShape(c, tables, at, 'decoderPositions', [rows, decoderHidden]);
  }
}

function checkLlm(c: Checker, comp: Json, at: string, listed: Map<string, FileEntry>): void {
  checkComponentFiles(c, comp, at, RULES.llm, listed);
  c.string(comp, 'systemPrompt', `${at}.systemPrompt`, true);
  const cfg = c.object(comp, 'config', `${at}.config`);
  let vocab: number | undefined;
  if (cfg) {
    const p = `${at}.config`;
    checkHeads(c, cfg, p, 'hiddenSize');
    c.positiveInt(cfg, 'layers', `${p}.layers`);
    c.positiveInt(cfg, 'intermediateSize', `${p}.intermediateSize`);
    c.positiveNumber(cfg, 'rmsNormEps', `${p}.rmsNormEps`);
    c.positiveNumber(cfg, 'ropeTheta', `${p}.ropeTheta`);
    vocab = c.positiveInt(cfg, 'vocabSize', `${p}.vocabSize`);
    c.boolean(cfg, 'tieWordEmbeddings', `${p}.tieWordEmbeddings`);
    c.positiveInt(cfg, 'maxPositionEmbeddings', `${p}.maxPositionEmbeddings`);
  }
  const tok = c.object(comp, 'tokens', `${at}.tokens`);
  if (!tok) return;
  const p = `${at}.tokens`;
  const id = (value: unknown, path: string): number | undefined => {
    if (!isInt(value) || value < 0) return c.fail(path, `expected a token id (integer ≥ 0), got ${describe(value)}`);
    if (vocab !== undefined && value >= vocab) return c.fail(path, `token id ${value} is outside vocabSize ${vocab}`);
    return value;
  };
  for (const key of ['imageStartTag', 'imageEndTag', 'imStart', 'imEnd', 'pad']) id(tok[key], `${p}.${key}`);
  const eos = tok.eos;
  if (!Array.isArray(eos) || eos.length === 0) c.fail(`${p}.eos`, `expected a non-empty array of token ids, got ${describe(eos)}`);
  else eos.forEach((e: unknown, i) => id(e, `${p}.eos[${i}]`));
  const range = (baseKey: string, countKey: string) => {
    const base = id(tok[baseKey], `${p}.${baseKey}`);
    const count = c.positiveInt(tok, countKey, `${p}.${countKey}`);
    if (base !== undefined && count !== undefined && vocab !== undefined && base + count > vocab) {
      c.fail(`${p}.${countKey}`, `${baseKey} ${base} + ${countKey} ${count} = ${base + count} exceeds vocabSize ${vocab}`);
    }
  };
  range('scaleTokenBase', 'scaleTokenCount');
  range('imageTokenBase', 'imageTokenCount');
}

function checkArdtok(c: Checker, comp: Json, at: string, listed: Map<string, FileEntry>): void {
  checkComponentFiles(c, comp, at, RULES.ardtok, listed);
  const cfg = c.object(comp, 'config', `${at}.config`);
  if (!cfg) return;
  const p = `${at}.config`;
  c.string(cfg, 'name', `${p}.name`);
  c.string(cfg, 'modelType', `${p}.modelType`);
  checkHeads(c, cfg, p, 'dim');
  for (const k of ['layers', 'intermediateSize', 'vocabSize', 'condDim', 'maxPrefixLen', 'imageSize']) {
    c.positiveInt(cfg, k, `${p}.${k}`);
  }
  const seqLen = c.positiveInt(cfg, 'maxSeqLen', `${p}.maxSeqLen`);
  const grid = c.positiveInt(cfg, 'gridSize', `${p}.gridSize`);
  if (seqLen !== undefined && grid !== undefined && grid * grid !== seqLen) {
    c.fail(`${p}.gridSize`, `gridSize² = ${grid * grid}, but maxSeqLen is ${seqLen}`);
  }
  c.positiveNumber(cfg, 'normEps', `${p}.normEps`);
}

function checkVq(c: Checker, comp: Json, at: string, listed: Map<string, FileEntry>): void {
  checkComponentFiles(c, comp, at, RULES.vq, listed);
  const cfg = c.object(comp, 'config', `${at}.config`);
  if (!cfg) return;
  for (const k of ['codebookSize', 'codeDim', 'downsample', 'zChannels']) c.positiveInt(cfg, k, `${at}.config.${k}`);
}

/** Numbers that must agree between components present together (the pipeline hands data across them). */
function checkAcrossComponents(c: Checker, comps: Json): void {
  const num = (path: string[]): number | undefined => {
    let v: unknown = comps;
    for (const k of path) v = isObject(v) ? v[k] : undefined;
    return isInt(v) && v > 0 ? v : undefined;
  };
  const agree = (a: string[], b: string[], why: string) => {
    const x = num(a);
    const y = num(b);
    if (x !== undefined && y !== undefined && x !== y) {
      c.fail(`components.${a.join('.')}`, `${x} ≠ components.${b.join('.')} ${y} (${why})`);
    }
  };
  agree(['llm', 'tokens', 'imageTokenCount'], ['tatok', 'config', 'codebookSize'], 'image token k is TA-Tok code k');
  const scales = isObject(comps.tatok) && isObject(comps.tatok.config) ? comps.tatok.config.poolScales : undefined;
  const scaleCount = num(['llm', 'tokens', 'scaleTokenCount']);
  if (Array.isArray(scales) && scaleCount !== undefined) {
    const maxScale = Math.max(...scales.filter(isInt));
    if (scaleCount < maxScale) {
      c.fail('components.llm.tokens.scaleTokenCount', `${scaleCount} scale tokens, but components.tatok.config.poolScales reaches ${maxScale} (<S${maxScale - 1}>)`);
    }
  }
  agree(['ardtok', 'config', 'condDim'], ['tatok', 'config', 'decoderHiddenSize'], 'the TA-Tok decoder features condition the de-tokenizer');
  const tatokGrid = num(['tatok', 'config', 'gridSize']);
  const prefix = num(['ardtok', 'config', 'maxPrefixLen']);
  if (tatokGrid !== undefined && prefix !== undefined && tatokGrid * tatokGrid > prefix) {
    c.fail('components.ardtok.config.maxPrefixLen', `${prefix} prefix rows cannot hold the ${tatokGrid}² = ${tatokGrid * tatokGrid} TA-Tok tokens of pool scale 1 (components.tatok.config.gridSize)`);
  }
  agree(['ardtok', 'config', 'vocabSize'], ['vq', 'config', 'codebookSize'], 'the de-tokenizer emits VQ codes');
  const ardImage = num(['ardtok', 'config', 'imageSize']);
  const down = num(['vq', 'config', 'downsample']);
  const seqLen = num(['ardtok', 'config', 'maxSeqLen']);
  if (ardImage !== undefined && down !== undefined && seqLen !== undefined) {
    const side = ardImage / down;
    if (!Number.isInteger(side) || side * side !== seqLen) {
      c.fail('components.ardtok.config.maxSeqLen', `${seqLen} ≠ (imageSize ${ardImage} / vq downsample ${down})²`);
    }
  }
}

function checkSampling(c: Checker, raw: unknown): void {
  if (!isObject(raw)) {
    c.fail('sampling', `expected an object, got ${describe(raw)}`);
    return;
  }
  const t2i = c.object(raw, 'textToImage', 'sampling.textToImage');
  if (t2i) {
    c.nonNegativeNumber(t2i, 'temperature', 'sampling.textToImage.temperature');
    c.probability(t2i, 'topP', 'sampling.textToImage.topP');
    c.nonNegativeInt(t2i, 'topK', 'sampling.textToImage.topK');
    if ('cfgScale' in t2i) c.nonNegativeNumber(t2i, 'cfgScale', 'sampling.textToImage.cfgScale');
    if ('cfgMinP' in t2i) c.probability(t2i, 'cfgMinP', 'sampling.textToImage.cfgMinP');
    const candidates = 'candidates' in t2i ? c.positiveInt(t2i, 'candidates', 'sampling.textToImage.candidates') : undefined;
    if ('selfCheckQuestion' in t2i) c.string(t2i, 'selfCheckQuestion', 'sampling.textToImage.selfCheckQuestion');
    else if (candidates !== undefined && candidates > 1) {
      c.fail('sampling.textToImage.candidates', `${candidates} candidates need a selfCheckQuestion to choose between them`);
    }
  }
  const det = c.object(raw, 'detokenizer', 'sampling.detokenizer');
  if (det) {
    c.nonNegativeNumber(det, 'cfgScale', 'sampling.detokenizer.cfgScale');
    if ('cfgMinP' in det) c.probability(det, 'cfgMinP', 'sampling.detokenizer.cfgMinP');
    c.nonNegativeNumber(det, 'temperature', 'sampling.detokenizer.temperature');
    c.nonNegativeInt(det, 'topK', 'sampling.detokenizer.topK');
    c.probability(det, 'topP', 'sampling.detokenizer.topP');
    if ('drawings' in det) c.positiveInt(det, 'drawings', 'sampling.detokenizer.drawings');
  }
  const chat = c.object(raw, 'chat', 'sampling.chat');
  if (chat) {
    c.nonNegativeNumber(chat, 'temperature', 'sampling.chat.temperature');
    c.probability(chat, 'topP', 'sampling.chat.topP');
    c.nonNegativeInt(chat, 'topK', 'sampling.chat.topK');
    c.positiveInt(chat, 'maxNewTokens', 'sampling.chat.maxNewTokens');
    c.positiveNumber(chat, 'repetitionPenalty', 'sampling.chat.repetitionPenalty');
    const views = 'views' in chat ? c.positiveInt(chat, 'views', 'sampling.chat.views') : undefined;
    if (views !== undefined && views > MAX_VIEWS) c.fail('sampling.chat.views', `${views} views: at most ${MAX_VIEWS} (the shifts src/models/views.ts takes)`);
  }
}

const CHECKERS: Record<ComponentName, (c: Checker, comp: Json, at: string, listed: Map<string, FileEntry>) => void> = {
  tatok: checkTatok,
  llm: checkLlm,
  ardtok: checkArdtok,
  vq: checkVq,
};

/**
 * Checks a parsed manifest.json (docs/model-format.md) and returns it typed. Throws ManifestError listing
 * every problem, each naming the field path. Unknown extra fields are kept and not checked; unknown
 * components are an error (a newer format this engine cannot run).
 */
export function parseManifest(json: unknown): Manifest {
  const c = new Checker();
  if (!isObject(json)) throw new ManifestError([`manifest: expected a JSON object, got ${describe(json)}`]);
  if (json.format !== MANIFEST_FORMAT) {
    // Not a package manifest at all: the other fields would only add noise.
    throw new ManifestError([`format: expected ${JSON.stringify(MANIFEST_FORMAT)}, got ${describe(json.format)}`]);
  }
  if (json.formatVersion !== MANIFEST_FORMAT_VERSION) {
    throw new ManifestError([
      `formatVersion: this engine reads version ${MANIFEST_FORMAT_VERSION}, got ${describe(json.formatVersion)}`,
    ]);
  }
  c.string(json, 'modelId', 'modelId');
  if (json.storage !== 'float32' && json.storage !== 'float16') {
    c.fail('storage', `expected "float32" or "float16", got ${describe(json.storage)}`);
  }
  const listed = checkFiles(c, json.files);
  const comps = c.object(json, 'components', 'components');
  if (comps) {
    const names = Object.keys(comps);
    if (names.length === 0) c.fail('components', `expected at least one of ${COMPONENT_NAMES.join(', ')}`);
    for (const name of names) {
      const at = `components.${name}`;
      if (!(COMPONENT_NAMES as readonly string[]).includes(name)) {
        c.fail(at, `unknown component (this engine knows ${COMPONENT_NAMES.join(', ')})`);
        continue;
      }
      const comp = c.object(comps, name, at);
      if (comp) CHECKERS[name as ComponentName](c, comp, at, listed);
    }
    checkAcrossComponents(c, comps);
  }
  checkSampling(c, json.sampling);
  if (c.issues.length > 0) throw new ManifestError(c.issues);
  const manifest = json as unknown as Manifest;
  const t2i = manifest.sampling.textToImage;
  const textToImage = { ...t2i, cfgScale: t2i.cfgScale ?? NO_GUIDANCE, candidates: t2i.candidates ?? ONE_CANDIDATE };
  const chat = { ...manifest.sampling.chat, views: manifest.sampling.chat.views ?? ONE_VIEW };
  return { ...manifest, sampling: { ...manifest.sampling, textToImage, chat } };
}
