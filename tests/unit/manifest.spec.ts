// parseManifest: a valid package manifest (the sizes of docs/model-format.md) passes; each class of problem
// is rejected with a ManifestError whose message names the field path.
import { expect, test } from '@playwright/test';
import { ManifestError, TarError } from '../../src/errors.ts';
import { NO_GUIDANCE, ONE_CANDIDATE, ONE_VIEW, parseManifest, packagePathProblem, tableByteLength } from '../../src/model/manifest.ts';

const SHA = 'ab'.repeat(32);

function file(path: string, bytes = 1000) {
  return { path, bytes, sha256: SHA };
}

/** A manifest like the one the converter writes for Tar-1.5B (float16 storage). */
function validManifest(): Record<string, any> {
  const codebook = 65536 * 1536 * 2;
  return {
    format: 'tar-webgpu-package',
    formatVersion: 1,
    modelId: 'tar-1.5b',
    storage: 'float16',
    files: [
      file('ardtok/condition_embed.onnx'),
      file('ardtok/model.onnx'),
      file('ardtok/model.onnx.data', 1_300_000_000),
      file('ardtok/token_embed.onnx'),
      file('llm/model.onnx'),
      file('llm/model.onnx.data', 1_000_000_000),
      file('llm/tokenizer.json'),
      file('tatok/codebook.bin', codebook),
      file('tatok/decode_table.bin', codebook),
      file('tatok/decoder.onnx'),
      file('tatok/decoder_positions.bin', 979 * 1152 * 2),
      file('tatok/encoder.onnx'),
      file('tatok/encoder.onnx.data', 800_000_000),
      file('tatok/project.onnx'),
      file('vq/decoder.onnx'),
    ],
    components: {
      tatok: {
        config: {
          imageSize: 384, patchSize: 14, gridSize: 27, encoderHiddenSize: 1152, encoderLayers: 26,
          encoderHeads: 16, encoderIntermediateSize: 4304, layerNormEps: 1e-6, codebookSize: 65536,
          codeDim: 1536, poolScales: [1, 2, 3], decoderHiddenSize: 1152, decoderLayers: 3, decoderHeads: 12,
          decoderIntermediateSize: 3072, decoderLayerNormEps: 1e-6, decoderPositionGrids: [27, 13, 9],
          decoderPositionOffsets: [0, 729, 898], defaultPoolScale: 1,
          preprocess: { resize: 'bilinear', antialias: false, rescale: 'x / 127.5 - 1' },
        },
        files: {
          encoder: 'tatok/encoder.onnx', encoderData: 'tatok/encoder.onnx.data', project: 'tatok/project.onnx',
          codebook: 'tatok/codebook.bin', decodeTable: 'tatok/decode_table.bin', decoder: 'tatok/decoder.onnx',
          decoderPositions: 'tatok/decoder_positions.bin',
        },
        tables: {
          codebook: { dtype: 'float16', shape: [65536, 1536] },
          decodeTable: { dtype: 'float16', shape: [65536, 1536] },
          decoderPositions: { dtype: 'float16', shape: [979, 1152] },
        },
      },
      llm: {
        config: {
          hiddenSize: 1536, layers: 28, heads: 12, kvHeads: 2, headDim: 128, intermediateSize: 8960,
          rmsNormEps: 1e-6, ropeTheta: 1e6, vocabSize: 217206, tieWordEmbeddings: true, maxPositionEmbeddings: 32768,
        },
        tokens: {
          imageStartTag: 151665, imageEndTag: 151666, scaleTokenBase: 151667, scaleTokenCount: 3,
          imageTokenBase: 151670, imageTokenCount: 65536, imStart: 151644, imEnd: 151645, eos: [151645, 151643],
          pad: 151643,
        },
        systemPrompt: 'You are a helpful assistant.',
        files: { model: 'llm/model.onnx', modelData: 'llm/model.onnx.data', tokenizer: 'llm/tokenizer.json' },
      },
      ardtok: {
        config: {
          name: 'llama-abs-LP', modelType: 'clip_cond', dim: 1280, layers: 30, heads: 20, kvHeads: 20, headDim: 64,
          intermediateSize: 3584, normEps: 1e-5, vocabSize: 16384, condDim: 1152, maxSeqLen: 256, maxPrefixLen: 729,
          gridSize: 16, imageSize: 256,
        },
        files: {
          conditionEmbed: 'ardtok/condition_embed.onnx', tokenEmbed: 'ardtok/token_embed.onnx',
          model: 'ardtok/model.onnx', modelData: 'ardtok/model.onnx.data',
        },
      },
      vq: {
        config: { codebookSize: 16384, codeDim: 8, downsample: 16, zChannels: 256 },
        files: { decoder: 'vq/decoder.onnx' },
      },
    },
    sampling: {
      textToImage: { temperature: 1.0, topP: 0.95, topK: 1200 },
      detokenizer: { cfgScale: 4.0, temperature: 1.0, topK: 0, topP: 1.0 },
      chat: { temperature: 0.7, topP: 0.8, topK: 20, maxNewTokens: 512, repetitionPenalty: 1.0 },
    },
  };
}

/** The issues parseManifest reports for `m` (fails the test when it accepts it). */
function issuesOf(m: unknown): readonly string[] {
  try {
    parseManifest(m);
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    expect(e).toBeInstanceOf(TarError);
    expect((e as ManifestError).code).toBe('invalid-manifest');
    expect((e as ManifestError).name).toBe('ManifestError');
    return (e as ManifestError).issues;
  }
  throw new Error('parseManifest accepted an invalid manifest');
}

function rejects(edit: (m: Record<string, any>) => void, ...expected: string[]): void {
  const m = validManifest();
  edit(m);
  const issues = issuesOf(m);
  for (const text of expected) {
    expect(issues.some((i) => i.includes(text)), `expected an issue containing ${JSON.stringify(text)}, got ${JSON.stringify(issues)}`).toBe(true);
  }
}

test('a valid manifest passes and comes back typed', () => {
  const m = parseManifest(validManifest());
  expect(m.components.llm?.config.kvHeads).toBe(2);
  expect(m.components.tatok?.tables.decoderPositions.shape).toEqual([979, 1152]);
  expect(tableByteLength(m.components.tatok!.tables.codebook)).toBe(65536 * 1536 * 2);
  // Any non-empty subset of the components is a package.
  const only = validManifest();
  delete only.components.tatok;
  delete only.components.ardtok;
  expect(Object.keys(parseManifest(only).components)).toEqual(['llm', 'vq']);
  // Unknown extra fields are kept, not rejected.
  const extra = validManifest();
  extra.components.llm.config.slidingWindow = 4096;
  expect((parseManifest(extra).components.llm?.config as any).slidingWindow).toBe(4096);
});

test('the message names the field path, as in the format doc', () => {
  const m = validManifest();
  m.components.llm.config.kvHeads = -1;
  expect(() => parseManifest(m)).toThrow('components.llm.config.kvHeads: expected a positive integer, got -1');
});

test('not an object, wrong format, wrong version', () => {
  expect(issuesOf(null)).toEqual(['manifest: expected a JSON object, got null']);
  expect(issuesOf([1])[0]).toContain('manifest: expected a JSON object, got an array');
  rejects((m) => (m.format = 'onnx'), 'format: expected "tar-webgpu-package", got "onnx"');
  rejects((m) => (m.formatVersion = 2), 'formatVersion: this engine reads version 1, got 2');
  rejects((m) => delete m.formatVersion, 'formatVersion:');
  rejects((m) => (m.storage = 'bfloat16'), 'storage: expected "float32" or "float16", got "bfloat16"');
  rejects((m) => (m.modelId = ''), 'modelId: expected a non-empty string');
});

test('file entries: relative paths without "..", sha256 of 64 hex, non-negative integer bytes, no duplicates', () => {
  rejects((m) => (m.files[0].path = '/etc/passwd'), 'files[0].path: "/etc/passwd" must be relative');
  rejects((m) => (m.files[0].path = 'ardtok/../../secret'), 'files[0].path: "ardtok/../../secret" must not contain ".."');
  rejects((m) => (m.files[0].path = '..'), 'files[0].path: ".." must not contain ".."');
  rejects((m) => (m.files[0].path = 'a\\b'), 'files[0].path: "a\\\\b" must use "/"');
  rejects((m) => (m.files[0].path = 'a//b'), 'files[0].path: "a//b" has an empty or "." segment');
  rejects((m) => (m.files[0].path = ''), 'files[0].path: expected a non-empty string');
  rejects((m) => (m.files[1].sha256 = 'xyz'), 'files[1].sha256: expected 64 lower-case hex digits, got "xyz"');
  rejects((m) => (m.files[1].sha256 = 'AB'.repeat(32)), 'files[1].sha256: expected 64 lower-case hex digits');
  rejects((m) => (m.files[2].bytes = -5), 'files[2].bytes: expected a non-negative integer, got -5');
  rejects((m) => (m.files[2].bytes = 1.5), 'files[2].bytes: expected a non-negative integer, got 1.5');
  rejects((m) => (m.files[2].bytes = '10'), 'files[2].bytes: expected a non-negative integer, got "10"');
  rejects((m) => m.files.push(file('vq/decoder.onnx')), 'files[15].path: "vq/decoder.onnx" is listed twice');
  rejects((m) => m.files.push(file('manifest.json')), 'files[15].path: the manifest does not list itself');
  rejects((m) => (m.files = {}), 'files: expected an array of file entries, got an object');
  rejects((m) => (m.files[3] = 'x'), 'files[3]: expected an object, got "x"');
  expect(packagePathProblem('tatok/encoder.onnx')).toBeNull();
  expect(packagePathProblem('C:/x')).toContain('drive letter');
  expect(packagePathProblem('./x')).toContain('"." segment');
});

test('every component role path is listed in files, and required roles exist', () => {
  rejects((m) => m.files.splice(14, 1), 'components.vq.files.decoder: "vq/decoder.onnx" is not in the top-level files list');
  rejects((m) => delete m.components.llm.files.tokenizer, 'components.llm.files.tokenizer: required role is missing');
  rejects((m) => delete m.components.tatok.files.project, 'components.tatok.files.project: required role is missing');
  rejects((m) => delete m.components.ardtok.files.tokenEmbed, 'components.ardtok.files.tokenEmbed: required role is missing');
  rejects((m) => (m.components.vq.files.decoder = '../vq/decoder.onnx'), 'components.vq.files.decoder: "../vq/decoder.onnx" must not contain ".."');
  rejects((m) => (m.components.vq.files.decoder = 7), 'components.vq.files.decoder: expected a path, got 7');
  rejects((m) => (m.components.llm.files.modelData = 'llm/tokenizer.json'), 'components.llm.files.modelData: expected "llm/model.onnx.data"');
  rejects((m) => (m.components.llm.files.modelData1 = 'llm/model.onnx.data'), 'components.llm.files.modelData1: expected "llm/model.onnx.data1"');
  rejects((m) => delete m.components.vq.files, 'components.vq.files: expected an object, got nothing (missing)');
});

test('components: a non-empty subset of the known ones', () => {
  rejects((m) => (m.components = {}), 'components: expected at least one of tatok, llm, ardtok, vq');
  rejects((m) => (m.components.sana = { config: {}, files: {} }), 'components.sana: unknown component');
  rejects((m) => (m.components.vq = []), 'components.vq: expected an object, got an array of 0');
  rejects((m) => delete m.components, 'components: expected an object, got nothing (missing)');
});

test('tables: dtype, shape, byte size of the file, shape from the config', () => {
  rejects((m) => (m.components.tatok.tables.codebook.dtype = 'int8'), 'components.tatok.tables.codebook.dtype: expected "float32" or "float16", got "int8"');
  rejects((m) => (m.components.tatok.tables.codebook.shape = [65536, -1]), 'components.tatok.tables.codebook.shape: expected a non-empty array of positive integers');
  rejects((m) => (m.components.tatok.tables.codebook.shape = []), 'components.tatok.tables.codebook.shape: expected a non-empty array');
  rejects(
    (m) => (m.files[7].bytes -= 2),
    `components.tatok.tables.codebook: float16 [65536, 1536] needs ${65536 * 1536 * 2} bytes, but tatok/codebook.bin has ${65536 * 1536 * 2 - 2}`,
  );
  rejects(
    (m) => (m.components.tatok.tables.decoderPositions.dtype = 'float32'),
    'components.tatok.tables.decoderPositions: float32 [979, 1152] needs',
  );
  rejects((m) => delete m.components.tatok.tables.decodeTable, 'components.tatok.tables.decodeTable: required table is missing');
  rejects((m) => delete m.components.tatok.tables, 'components.tatok.tables: expected an object');
  rejects(
    (m) => (m.components.tatok.tables.extra = { dtype: 'float32', shape: [2] }),
    'components.tatok.tables.extra: table has no file: components.tatok.files.extra is missing',
  );
  rejects((m) => {
    m.components.tatok.tables.codebook.shape = [65536, 768];
    m.files[7].bytes = 65536 * 768 * 2;
  }, 'components.tatok.tables.codebook.shape: expected [65536, 1536] from the config, got [65536, 768]');
  rejects((m) => {
    m.components.tatok.config.poolScales = [1, 2];
    m.components.tatok.config.decoderPositionGrids = [27, 13];
    m.components.tatok.config.decoderPositionOffsets = [0, 729];
  }, 'components.tatok.tables.decoderPositions.shape: expected [898, 1152] from the config, got [979, 1152]');
});

test('configs: positive integer counts, eps > 0, head splits, grid size', () => {
  rejects((m) => (m.components.llm.config.layers = 0), 'components.llm.config.layers: expected a positive integer, got 0');
  rejects((m) => (m.components.llm.config.hiddenSize = 1536.5), 'components.llm.config.hiddenSize: expected a positive integer, got 1536.5');
  rejects((m) => (m.components.llm.config.rmsNormEps = 0), 'components.llm.config.rmsNormEps: expected a finite number > 0, got 0');
  rejects((m) => (m.components.llm.config.ropeTheta = 'big'), 'components.llm.config.ropeTheta: expected a finite number > 0, got "big"');
  rejects((m) => (m.components.llm.config.tieWordEmbeddings = 1), 'components.llm.config.tieWordEmbeddings: expected true or false, got 1');
  rejects((m) => (m.components.llm.config.kvHeads = 5), 'components.llm.config.kvHeads: 5 does not divide heads 12');
  rejects((m) => (m.components.llm.config.headDim = 64), 'components.llm.config.headDim: heads 12 × headDim 64 = 768, but hiddenSize is 1536');
  rejects((m) => (m.components.ardtok.config.headDim = 32), 'components.ardtok.config.headDim: heads 20 × headDim 32 = 640, but dim is 1280');
  rejects((m) => (m.components.ardtok.config.kvHeads = 3), 'components.ardtok.config.kvHeads: 3 does not divide heads 20');
  rejects((m) => (m.components.ardtok.config.normEps = -1e-5), 'components.ardtok.config.normEps: expected a finite number > 0, got -0.00001');
  rejects((m) => delete m.components.ardtok.config.maxPrefixLen, 'components.ardtok.config.maxPrefixLen: expected a positive integer, got nothing (missing)');
  rejects((m) => (m.components.ardtok.config.modelType = 3), 'components.ardtok.config.modelType: expected a string, got 3');
  rejects((m) => (m.components.vq.config.codeDim = null), 'components.vq.config.codeDim: expected a positive integer, got null');
  rejects((m) => (m.components.tatok.config.layerNormEps = 0), 'components.tatok.config.layerNormEps: expected a finite number > 0, got 0');
  rejects((m) => (m.components.tatok.config.gridSize = 28), 'components.tatok.config.gridSize: expected floor(imageSize 384 / patchSize 14) = 27, got 28');
  rejects((m) => (m.components.tatok.config.encoderHeads = 7), 'components.tatok.config.encoderHeads: 7 does not divide encoderHiddenSize 1152');
  rejects((m) => (m.components.tatok.config.decoderHeads = 7), 'components.tatok.config.decoderHeads: 7 does not divide decoderHiddenSize 1152');
  rejects((m) => (m.components.tatok.config.poolScales = [1, 0]), 'components.tatok.config.poolScales[1]: expected a positive integer, got 0');
  rejects((m) => (m.components.tatok.config.poolScales = [1, 28]), 'components.tatok.config.poolScales[1]: scale 28 leaves no token of a 27×27 grid');
  rejects((m) => (m.components.tatok.config.poolScales = []), 'components.tatok.config.poolScales: expected a non-empty array');
  rejects((m) => (m.components.tatok.config.poolScales = [1, 1, 3]), 'components.tatok.config.poolScales: has a repeated scale');
  rejects((m) => (m.components.tatok.config.decoderLayerNormEps = -1), 'components.tatok.config.decoderLayerNormEps: expected a finite number > 0, got -1');
  rejects((m) => (m.components.tatok.config.defaultPoolScale = 4), 'components.tatok.config.defaultPoolScale: 4 is not one of poolScales [1, 2, 3]');
  rejects((m) => (m.components.tatok.config.decoderPositionGrids = [27, 14, 9]), 'components.tatok.config.decoderPositionGrids: expected [27, 13, 9] (floor(gridSize / s) per pool scale), got an array of 3 [27, 14, 9]');
  rejects((m) => delete m.components.tatok.config.decoderPositionOffsets, 'components.tatok.config.decoderPositionOffsets: expected [0, 729, 898] (running sum of p²), got nothing (missing)');
  rejects((m) => (m.components.ardtok.config.gridSize = 15), 'components.ardtok.config.gridSize: gridSize² = 225, but maxSeqLen is 256');
  rejects((m) => (m.components.tatok.config.preprocess.antialias = 'no'), 'components.tatok.config.preprocess.antialias: expected true or false, got "no"');
  rejects((m) => delete m.components.llm.config, 'components.llm.config: expected an object, got nothing (missing)');
});

test('token ids: integers inside vocabSize, ranges inside vocabSize', () => {
  rejects((m) => (m.components.llm.tokens.imEnd = 217206), 'components.llm.tokens.imEnd: token id 217206 is outside vocabSize 217206');
  rejects((m) => (m.components.llm.tokens.pad = -1), 'components.llm.tokens.pad: expected a token id (integer ≥ 0), got -1');
  rejects((m) => (m.components.llm.tokens.imageStartTag = 1.5), 'components.llm.tokens.imageStartTag: expected a token id (integer ≥ 0), got 1.5');
  rejects((m) => (m.components.llm.tokens.eos = []), 'components.llm.tokens.eos: expected a non-empty array of token ids');
  rejects((m) => (m.components.llm.tokens.eos = [151645, 999999]), 'components.llm.tokens.eos[1]: token id 999999 is outside vocabSize 217206');
  rejects(
    (m) => (m.components.llm.tokens.imageTokenBase = 151671),
    'components.llm.tokens.imageTokenCount: imageTokenBase 151671 + imageTokenCount 65536 = 217207 exceeds vocabSize 217206',
  );
  rejects((m) => (m.components.llm.tokens.scaleTokenCount = 0), 'components.llm.tokens.scaleTokenCount: expected a positive integer, got 0');
  rejects((m) => (m.components.llm.systemPrompt = 5), 'components.llm.systemPrompt: expected a string, got 5');
  // An empty system prompt is allowed (a model trained without one).
  const m = validManifest();
  m.components.llm.systemPrompt = '';
  expect(parseManifest(m).components.llm?.systemPrompt).toBe('');
});

test('numbers shared across components must agree', () => {
  rejects((m) => {
    m.components.llm.tokens.imageTokenCount = 1000;
  }, 'components.llm.tokens.imageTokenCount: 1000 ≠ components.tatok.config.codebookSize 65536');
  rejects((m) => (m.components.llm.tokens.scaleTokenCount = 2), 'components.llm.tokens.scaleTokenCount: 2 scale tokens, but components.tatok.config.poolScales reaches 3');
  rejects((m) => (m.components.ardtok.config.condDim = 1024), 'components.ardtok.config.condDim: 1024 ≠ components.tatok.config.decoderHiddenSize 1152');
  rejects((m) => (m.components.ardtok.config.vocabSize = 8192), 'components.ardtok.config.vocabSize: 8192 ≠ components.vq.config.codebookSize 16384');
  rejects((m) => {
    m.components.ardtok.config.maxSeqLen = 1024;
    m.components.ardtok.config.gridSize = 32;
  }, 'components.ardtok.config.maxSeqLen: 1024 ≠ (imageSize 256 / vq downsample 16)²');
  rejects((m) => (m.components.ardtok.config.maxPrefixLen = 700), 'components.ardtok.config.maxPrefixLen: 700 prefix rows cannot hold the 27² = 729 TA-Tok tokens');
  // Without the other component there is nothing to compare.
  const m = validManifest();
  delete m.components.tatok;
  m.components.llm.tokens.imageTokenCount = 1000;
  expect(() => parseManifest(m)).not.toThrow();
});

test('sampling defaults: ranges', () => {
  rejects((m) => (m.sampling.textToImage.topP = 0), 'sampling.textToImage.topP: expected a number in (0, 1], got 0');
  rejects((m) => (m.sampling.textToImage.topP = 1.01), 'sampling.textToImage.topP: expected a number in (0, 1], got 1.01');
  rejects((m) => (m.sampling.textToImage.topK = -1), 'sampling.textToImage.topK: expected a non-negative integer, got -1');
  rejects((m) => (m.sampling.textToImage.temperature = -0.5), 'sampling.textToImage.temperature: expected a finite number ≥ 0, got -0.5');
  rejects((m) => (m.sampling.detokenizer.cfgScale = Infinity), 'sampling.detokenizer.cfgScale: expected a finite number ≥ 0, got Infinity');
  rejects((m) => (m.sampling.textToImage.cfgScale = -1), 'sampling.textToImage.cfgScale: expected a finite number ≥ 0, got -1');
  rejects((m) => (m.sampling.textToImage.cfgScale = 'strong'), 'sampling.textToImage.cfgScale: expected a finite number ≥ 0, got "strong"');
  rejects((m) => (m.sampling.textToImage.cfgMinP = 0), 'sampling.textToImage.cfgMinP: expected a number in (0, 1], got 0');
  rejects((m) => (m.sampling.textToImage.cfgMinP = 1.5), 'sampling.textToImage.cfgMinP: expected a number in (0, 1], got 1.5');
  rejects((m) => (m.sampling.detokenizer.cfgMinP = 0), 'sampling.detokenizer.cfgMinP: expected a number in (0, 1], got 0');
  rejects((m) => (m.sampling.detokenizer.cfgMinP = '0.3'), 'sampling.detokenizer.cfgMinP: expected a number in (0, 1], got "0.3"');
  rejects((m) => (m.sampling.chat.maxNewTokens = 0), 'sampling.chat.maxNewTokens: expected a positive integer, got 0');
  rejects((m) => (m.sampling.chat.repetitionPenalty = 0), 'sampling.chat.repetitionPenalty: expected a finite number > 0, got 0');
  rejects((m) => delete m.sampling.chat, 'sampling.chat: expected an object, got nothing (missing)');
  rejects((m) => delete m.sampling, 'sampling: expected an object, got nothing (missing)');
  // Temperature 0 (greedy) and top-k 0 (off) are valid.
  const m = validManifest();
  m.sampling.chat.temperature = 0;
  m.sampling.chat.topK = 0;
  expect(() => parseManifest(m)).not.toThrow();
});

test('sampling.textToImage.cfgScale and cfgMinP: optional, no guidance (1) and no filter when left out, kept when given', () => {
  const older = validManifest();
  expect(parseManifest(older).sampling.textToImage.cfgScale).toBe(NO_GUIDANCE);
  expect('cfgScale' in older.sampling.textToImage, 'parseManifest must not write into its input').toBe(false);
  expect(NO_GUIDANCE).toBe(1);
  const guided = validManifest();
  guided.sampling.textToImage.cfgScale = 1.5;
  expect(parseManifest(guided).sampling.textToImage.cfgScale).toBe(1.5);
  expect(parseManifest(guided).sampling.textToImage.cfgMinP).toBeUndefined();
  guided.sampling.textToImage.cfgMinP = 0.05;
  expect(parseManifest(guided).sampling.textToImage.cfgMinP).toBe(0.05);
});

test('sampling.detokenizer.cfgMinP: optional, no filter when left out, kept when given', () => {
  const older = validManifest();
  expect(parseManifest(older).sampling.detokenizer.cfgMinP).toBeUndefined();
  const filtered = validManifest();
  filtered.sampling.detokenizer.cfgMinP = 0.3;
  expect(parseManifest(filtered).sampling.detokenizer.cfgMinP).toBe(0.3);
});

test('sampling.textToImage.candidates and selfCheckQuestion: optional, one candidate when left out; more need a question', () => {
  const older = validManifest();
  expect(parseManifest(older).sampling.textToImage.candidates).toBe(ONE_CANDIDATE);
  expect('candidates' in older.sampling.textToImage, 'parseManifest must not write into its input').toBe(false);
  expect(parseManifest(older).sampling.textToImage.selfCheckQuestion).toBeUndefined();
  const checked = validManifest();
  checked.sampling.textToImage.candidates = 4;
  checked.sampling.textToImage.selfCheckQuestion = 'describe the image.';
  expect(parseManifest(checked).sampling.textToImage).toMatchObject({ candidates: 4, selfCheckQuestion: 'describe the image.' });
  rejects((m) => (m.sampling.textToImage.candidates = 0), 'sampling.textToImage.candidates: expected a positive integer, got 0');
  rejects((m) => (m.sampling.textToImage.candidates = 2.5), 'sampling.textToImage.candidates: expected a positive integer, got 2.5');
  rejects((m) => (m.sampling.textToImage.candidates = 2), 'sampling.textToImage.candidates: 2 candidates need a selfCheckQuestion to choose between them');
  rejects((m) => (m.sampling.textToImage.selfCheckQuestion = ''), 'sampling.textToImage.selfCheckQuestion: expected a non-empty string');
  rejects((m) => (m.sampling.textToImage.selfCheckQuestion = 7), 'sampling.textToImage.selfCheckQuestion: expected a string, got 7');
  // A question without candidates is a package that offers the self-check without asking for it by default.
  const offered = validManifest();
  offered.sampling.textToImage.selfCheckQuestion = 'describe the image.';
  expect(parseManifest(offered).sampling.textToImage.candidates).toBe(1);
});

test('sampling.detokenizer.drawings: optional, left out when absent (one drawing); a positive integer', () => {
  const older = validManifest();
  expect(parseManifest(older).sampling.detokenizer.drawings).toBeUndefined();
  const drawn = validManifest();
  drawn.sampling.detokenizer.drawings = 4;
  expect(parseManifest(drawn).sampling.detokenizer.drawings).toBe(4);
  rejects((m) => (m.sampling.detokenizer.drawings = 0), 'sampling.detokenizer.drawings: expected a positive integer, got 0');
  rejects((m) => (m.sampling.detokenizer.drawings = 2.5), 'sampling.detokenizer.drawings: expected a positive integer, got 2.5');
  rejects((m) => (m.sampling.detokenizer.drawings = '3'), 'sampling.detokenizer.drawings: expected a positive integer, got "3"');
});

test('every problem is reported at once', () => {
  const m = validManifest();
  m.components.llm.config.kvHeads = -1;
  m.files[0].sha256 = 'nope';
  m.sampling.chat.topP = 2;
  const issues = issuesOf(m);
  expect(issues).toHaveLength(3);
  expect(issues[0]).toContain('files[0].sha256');
});

test('sampling.chat.views: optional, one view when left out; a positive integer up to the shifts there are', () => {
  const older = validManifest();
  expect(parseManifest(older).sampling.chat.views).toBe(ONE_VIEW);
  expect('views' in older.sampling.chat, 'parseManifest must not write into its input').toBe(false);
  const checked = validManifest();
  checked.sampling.chat.views = 5;
  expect(parseManifest(checked).sampling.chat.views).toBe(5);
  rejects((m) => (m.sampling.chat.views = 0), 'sampling.chat.views: expected a positive integer, got 0');
  rejects((m) => (m.sampling.chat.views = '5'), 'sampling.chat.views: expected a positive integer, got "5"');
  rejects((m) => (m.sampling.chat.views = 10), 'sampling.chat.views: 10 views: at most 9 (the shifts src/models/views.ts takes)');
});
