// `npm run eval:shapes`: scores the real browser engine (its worker, on WebGPU, in headless Chromium) on the
// held-out Tar-Shapes evaluation set and compares it with the torch reference on the same items.
//   --model URL-or-path-under-public   the package (default /models/tar-shapes/)
//   --t2i N     text-to-image prompts, each drawn at every pool scale of the manifest (default T2I_DEFAULT)
//   --scales LIST  only these pool scales, comma-separated (default: all of the manifest's)
//   --candidates K  the self-check's pictures per image (default: the manifest's candidates)
//   --drawings D  the de-tokenizer's drawings per picture, kept by TA-Tok's read-back (default: the manifest's)
//   --chat N    image-chat questions (default CHAT_DEFAULT)
//   --views V   chat's test-time views of each picture (default: the manifest's views)
//   --out PATH  the result (default bench/results/shapes-eval.json)
//   --no-torch  skip the torch side (it is also skipped, with a note, for packages other than tar-shapes)
// Steps: the set (tools/shapes/eval_set.py write) into build/shapes/eval/; every prompt at every scale through
// the imagine job (seed = item index, the manifest's sampling, no previews) → PNGs; every chat item through the
// chat job (one turn, greedy, no repetition penalty, at most CHAT_MAX_TOKENS; the engine stops at <|im_end|>) as
// tools/shapes/torch_eval.py does; RUN.json scored by eval_set score; torch_eval's scores (cached per manifest and
// set); then {model, date, settings, n, engine, torch, difference, chatAnswersIdenticalToTorch, timing} and a
// table. Torch draws with the engine's own uniforms for the same seed (tools/convert/reference/seeded_uniforms.py),
// so text-to-image compares one by one too: t2iTokensIdenticalToTorch is the share of images whose LLM-drawn
// TA-Tok tokens are exactly torch's (they part only where float differences move a draw across a boundary);
// t2iPicturesAgainstTorch compares the pictures themselves (eval_set compare, torch's in build/shapes/eval/torch/);
// greedy chat answers compare one by one. Scoring is not done here.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { imageInput, openEnginePage } from '../scripts/headless/driver.mjs';
import { median } from './median.mjs';

const PYTHON = '/usr/bin/python3';
const ROOT = new URL('..', import.meta.url).pathname;
const EVAL_DIR = join(ROOT, 'build/shapes/eval');
const ENGINE_DIR = join(EVAL_DIR, 'engine');
const TORCH_CACHE = join(EVAL_DIR, 'torch.json');
const TORCH_IMAGES = join(EVAL_DIR, 'torch');
// Bumped when torch_eval's output changes meaning, so that an older cache is not reused.
const TORCH_FORMAT = 'engine-seeded draws';
const TORCH_MODEL_ID = 'tar-shapes';
const TORCH_MANIFEST = join(ROOT, 'public/models/tar-shapes/manifest.json');
// Sized so that a default run takes ~15 min with software WebGPU on 2 shared CPU cores (~50 s an image: 256
// de-tokenizer steps and the 16×16-code VQ decoder; ~1 s an answer; ~1 min of start-up and first-job shader
// compiles); torch_eval takes a minute or two.
const T2I_DEFAULT = 4;
const CHAT_DEFAULT = 48;
const CHAT_MAX_TOKENS = 48;
const CHAT = { temperature: 0, repetitionPenalty: 1, maxNewTokens: CHAT_MAX_TOKENS, seed: 0 };

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: '/models/tar-shapes/' },
    t2i: { type: 'string', default: String(T2I_DEFAULT) },
    chat: { type: 'string', default: String(CHAT_DEFAULT) },
    out: { type: 'string', default: 'bench/results/shapes-eval.json' },
    'no-torch': { type: 'boolean', default: false },
    scales: { type: 'string' },
    candidates: { type: 'string' },
    drawings: { type: 'string' },
    views: { type: 'string' },
  },
});

function count(name) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be an integer ≥ 0, got "${values[name]}"`);
    process.exit(2);
  }
  return n;
}

const t2iCount = count('t2i');
const chatCount = count('chat');
const candidates = values.candidates === undefined ? undefined : count('candidates');
if (candidates === 0) {
  console.error('--candidates must be ≥ 1');
  process.exit(2);
}
const drawings = values.drawings === undefined ? undefined : count('drawings');
if (drawings === 0) {
  console.error('--drawings must be ≥ 1');
  process.exit(2);
}
const views = values.views === undefined ? undefined : count('views');
if (views === 0) {
  console.error('--views must be ≥ 1');
  process.exit(2);
}
const model = values.model.endsWith('/') ? values.model : `${values.model}/`;

/** Runs a tools/ module with Debian's Python; → its stdout (stops the run on failure). */
function python(args) {
  const run = spawnSync(PYTHON, ['-m', ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  if (run.status !== 0) throw new Error(`${PYTHON} -m ${args.join(' ')} failed (exit ${run.status})`);
  return run.stdout;
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const phases = (timings) => Object.entries(timings).map(([phase, ms]) => `${phase} ${seconds(ms)}`).join(', ');

/** Medians of the jobs' total and per-phase milliseconds: { ms, phases: { phase: ms } }. */
function medians(results) {
  const names = [...new Set(results.flatMap((r) => Object.keys(r.timings)))];
  const ms = median(results.map((r) => r.elapsedMs));
  return { ms, phases: Object.fromEntries(names.map((n) => [n, median(results.map((r) => r.timings[n] ?? 0))])) };
}

/** The same shape as the scores, each number engine − torch (counts dropped); null where torch lacks it. */
function difference(engine, torch) {
  if (typeof engine === 'number') return typeof torch === 'number' ? engine - torch : null;
  const out = {};
  for (const [key, value] of Object.entries(engine)) {
    if (key !== 'n' && key !== 'answers') out[key] = difference(value, torch?.[key]);
  }
  return out;
}

/** The share of a run's items whose output is exactly torch's (items torch lacks are left out): `key` names an
 *  item on torch's side, `output` is what compares (greedy chat answers; text-to-image tokens, seeded alike). */
function identicalShare(items, torchOutputs, key, output) {
  const compared = items.filter((r) => key(r) in torchOutputs);
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const identical = compared.filter((r) => same(output(r), torchOutputs[key(r)])).length;
  return { identical: compared.length ? identical / compared.length : null, n: compared.length };
}

/** The scores side by side, in points: text-to-image metrics × scales, then chat accuracy per question kind. */
function table(engine, torch) {
  const pct = (v) => (typeof v === 'number' ? (100 * v).toFixed(1) : '—').padStart(6);
  const diff = (e, t) => (typeof e === 'number' && typeof t === 'number' ? `${e >= t ? '+' : ''}${(100 * (e - t)).toFixed(1)}` : '—').padStart(6);
  const cell = (e, t) => `${pct(e)} ${pct(t)} ${diff(e, t)}`;
  const head = '  engine  torch   diff';
  const scales = Object.keys(engine.t2i);
  const metrics = [...new Set(scales.flatMap((s) => Object.keys(engine.t2i[s])))].filter((k) => k !== 'n');
  const lines = [
    `${'text-to-image'.padEnd(14)}${scales.map((s) => `  scale ${s} (n ${engine.t2i[s].n})`.padEnd(head.length)).join('')}`.trimEnd(),
    `${''.padEnd(14)}${scales.map(() => head).join('')}`,
    ...metrics.map((m) => `${m.padEnd(14)}${scales.map((s) => `  ${cell(engine.t2i[s][m], torch?.t2i?.[s]?.[m])}`).join('')}`),
    '',
    `${'chat'.padEnd(14)}    n${head}`,
    ...Object.entries(engine.chat).map(
      ([kind, v]) => `${kind.padEnd(14)}${String(v.n).padStart(5)}  ${cell(v.accuracy, torch?.chat?.[kind]?.accuracy)}`,
    ),
  ];
  return lines.join('\n');
}

async function runEngine(page, evaluation, scales) {
  await mkdir(ENGINE_DIR, { recursive: true });
  const run = { t2i: [], chat: [] };
  const images = [];
  const answers = [];
  const { loadMs, modelId } = await page.evaluate((m) => window.tarHeadless.session.open(m), model);
  console.log(`engine: ${modelId} loaded in ${seconds(loadMs)}`);
  for (const [i, item] of evaluation.t2i.entries()) {
    for (const scale of scales) {
      const options = {
        prompt: item.prompt, scale, seed: i, count: 1, previewEveryRows: 0, ...(candidates ? { candidates } : {}), ...(drawings ? { drawings } : {}),
      };
      const result = await page.evaluate((o) => window.tarHeadless.session.imagine(o), options);
      const path = join(ENGINE_DIR, `${item.id}-s${scale}.png`);
      await writeFile(path, Buffer.from(result.images[0].png));
      const { tokens, selfCheck, roundTrip } = result.images[0];
      run.t2i.push({ id: item.id, scale, image: relative(EVAL_DIR, path), tokens, ...(selfCheck ? { selfCheck } : {}), ...(roundTrip ? { roundTrip } : {}) });
      images.push(result);
      console.log(`  ${item.id} scale ${scale}: ${seconds(result.elapsedMs)} (${phases(result.timings)})  "${item.prompt}"`);
    }
  }
  for (const item of evaluation.chat) {
    const turn = { question: item.question, image: await imageInput(join(EVAL_DIR, item.image)), ...CHAT, ...(views ? { views } : {}) };
    const result = await page.evaluate((t) => window.tarHeadless.session.chat(t), turn);
    const answer = result.text.trim();
    run.chat.push({ id: item.id, answer });
    answers.push(result);
    console.log(`  ${item.id}: ${seconds(result.elapsedMs)} (${phases(result.timings)})  ${item.question} → "${answer}" (truth "${item.truth}")`);
  }
  await page.evaluate(() => window.tarHeadless.session.close());
  return { run, timing: { loadMs, image: medians(images), answer: medians(answers) } };
}

/** torch_eval's scores for this set, from the cache when the package manifest and the set are unchanged. */
async function torchScores(setPath, modelId, manifestSha, scales) {
  if (values['no-torch']) return { scores: null, note: 'skipped (--no-torch)' };
  if (modelId !== TORCH_MODEL_ID) {
    return { scores: null, note: `skipped: tools/shapes/torch_eval.py scores the ${TORCH_MODEL_ID} checkpoints, not ${modelId}` };
  }
  const torchManifest = relative(ROOT, TORCH_MANIFEST);
  if (!existsSync(TORCH_MANIFEST) || sha256(await readFile(TORCH_MANIFEST)) !== manifestSha) {
    return { scores: null, note: `skipped: the engine's package is not the one torch_eval compares with (${torchManifest})` };
  }
  const drawing = { scales: scales.join(','), candidates: candidates ?? 'manifest', drawings: drawings ?? 'manifest', views: views ?? 'manifest' };
  const key = { manifest: manifestSha, set: sha256(await readFile(setPath)), format: TORCH_FORMAT, ...drawing };
  if (existsSync(TORCH_CACHE)) {
    const cached = JSON.parse(await readFile(TORCH_CACHE, 'utf8'));
    if (JSON.stringify(cached.key) === JSON.stringify(key)) {
      return { scores: cached.scores, note: `cached in ${relative(ROOT, TORCH_CACHE)}` };
    }
  }
  console.log('torch: running tools/shapes/torch_eval.py on the same set ...');
  const scratch = join(EVAL_DIR, 'torch-scores.json');
  const started = performance.now();
  const options = [
    '--scales', drawing.scales,
    ...(candidates ? ['--candidates', String(candidates)] : []),
    ...(drawings ? ['--drawings', String(drawings)] : []),
    ...(views ? ['--views', String(views)] : []),
  ];
  python(['tools.shapes.torch_eval', '--set', setPath, '--out', scratch, '--images', TORCH_IMAGES, ...options]);
  const scores = JSON.parse(await readFile(scratch, 'utf8'));
  await writeFile(TORCH_CACHE, `${JSON.stringify({ key, scores }, null, 1)}\n`);
  return { scores, note: `computed in ${seconds(performance.now() - started)}` };
}

const started = performance.now();
python(['tools.shapes.eval_set', 'write', '--out', EVAL_DIR, '--t2i', String(t2iCount), '--chat', String(chatCount)]);
const setPath = join(EVAL_DIR, 'set.json');
const evaluation = JSON.parse(await readFile(setPath, 'utf8'));

const { page, url, close } = await openEnginePage();
let manifest;
let manifestSha;
let engineRun;
let scales;
try {
  const response = await fetch(new URL('manifest.json', new URL(model, url)));
  if (!response.ok) throw new Error(`no manifest at ${model} (HTTP ${response.status})`);
  const bytes = Buffer.from(await response.arrayBuffer());
  manifestSha = sha256(bytes);
  manifest = JSON.parse(bytes.toString('utf8'));
  const all = manifest.components.tatok.config.poolScales;
  scales = values.scales === undefined ? all : values.scales.split(',').map(Number);
  if (!scales.every((x) => all.includes(x))) throw new Error(`--scales ${values.scales}: the package has pool scales ${all.join(', ')}`);
  console.log(`${manifest.modelId}: ${evaluation.t2i.length} prompts × scales ${scales.join(', ')}, ${evaluation.chat.length} chat items`);
  engineRun = await runEngine(page, evaluation, scales);
} finally {
  await close();
}

const runPath = join(EVAL_DIR, 'engine-run.json');
await writeFile(runPath, `${JSON.stringify(engineRun.run, null, 1)}\n`);
const engine = JSON.parse(python(['tools.shapes.eval_set', 'score', '--set', setPath, '--run', runPath]));
const torch = await torchScores(setPath, manifest.modelId, manifestSha, scales);
console.log(`torch: ${torch.note}`);
const pictures = torch.scores && JSON.parse(python(['tools.shapes.eval_set', 'compare', '--run', runPath, '--images', TORCH_IMAGES]));

const result = {
  model: { url: model, modelId: manifest.modelId, manifestSha256: manifestSha },
  date: new Date().toISOString(),
  settings: {
    textToImage: {
      ...manifest.sampling.textToImage,
      detokenizer: manifest.sampling.detokenizer,
      seed: 'item index (torch draws with the engine uniforms of that seed)',
      previews: false,
    },
    scales,
    candidates: candidates ?? manifest.sampling.textToImage.candidates ?? 1,
    drawings: drawings ?? manifest.sampling.detokenizer.drawings ?? 1,
    chat: { ...CHAT, understandingScale: 1, views: views ?? manifest.sampling.chat.views ?? 1, stop: '<|im_end|> or end of text' },
    torch: torch.note,
  },
  n: { t2i: evaluation.t2i.length, chat: evaluation.chat.length },
  engine,
  torch: torch.scores && { t2i: torch.scores.t2i, chat: torch.scores.chat },
  difference: torch.scores ? difference(engine, torch.scores) : null,
  t2iTokensIdenticalToTorch: torch.scores
    ? identicalShare(engineRun.run.t2i, torch.scores.draws, (r) => `${r.id}-s${r.scale}`, (r) => r.tokens)
    : null,
  t2iPicturesAgainstTorch: pictures,
  t2iSelfCheckKeepsTorchsCandidate: torch.scores?.selfCheck
    ? identicalShare(
        engineRun.run.t2i.filter((r) => r.selfCheck),
        Object.fromEntries(Object.entries(torch.scores.selfCheck).map(([k, scores]) => [k, scores.indexOf(Math.max(...scores))])),
        (r) => `${r.id}-s${r.scale}`,
        (r) => r.selfCheck.candidate,
      )
    : null,
  t2iRoundTripAgreementsIdenticalToTorch: torch.scores?.roundTrip
    ? identicalShare(
        engineRun.run.t2i.filter((r) => r.roundTrip),
        Object.fromEntries(Object.entries(torch.scores.roundTrip).map(([k, agreements]) => [k, agreements.join(',')])),
        (r) => `${r.id}-s${r.scale}`,
        (r) => r.roundTrip.agreements.join(','),
      )
    : null,
  chatAnswersIdenticalToTorch: torch.scores ? identicalShare(engineRun.run.chat, torch.scores.answers, (r) => r.id, (r) => r.answer) : null,
  timing: { ...engineRun.timing, totalMs: performance.now() - started },
};
const outPath = resolve(values.out);
await mkdir(dirname(outPath), { recursive: true });
await writeFile(outPath, `${JSON.stringify(result, null, 2)}\n`);

console.log(`\n${table(engine, result.torch)}`);
const drawAgreement = result.t2iTokensIdenticalToTorch;
if (drawAgreement?.n) console.log(`image tokens identical to torch's: ${(100 * drawAgreement.identical).toFixed(1)}% of ${drawAgreement.n}`);
if (pictures?.compared) {
  console.log(
    `pictures within one 8-bit level of torch's: ${(100 * pictures.withinOneLevel).toFixed(1)}% of ${pictures.compared} ` +
      `(largest difference ${pictures.maxLevelDifference})`,
  );
}
const kept = result.t2iSelfCheckKeepsTorchsCandidate;
if (kept?.n) console.log(`self-check kept torch's candidate: ${(100 * kept.identical).toFixed(1)}% of ${kept.n}`);
const roundTrip = result.t2iRoundTripAgreementsIdenticalToTorch;
if (roundTrip?.n) console.log(`round-trip agreements identical to torch's: ${(100 * roundTrip.identical).toFixed(1)}% of ${roundTrip.n}`);
const agreement = result.chatAnswersIdenticalToTorch;
if (agreement?.n) console.log(`chat answers identical to torch's: ${(100 * agreement.identical).toFixed(1)}% of ${agreement.n}`);
console.log(
  `\nmedians: image ${seconds(result.timing.image.ms ?? 0)}, answer ${seconds(result.timing.answer.ms ?? 0)}; ` +
    `load ${seconds(result.timing.loadMs)}; total ${seconds(result.timing.totalMs)}`,
);
console.log(`wrote ${values.out}`);
