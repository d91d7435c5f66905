// `npm run imagine -- --prompt "…" --seed 7 --out out.png` and `npm run chat -- --image in.png --question "…"`:
// drive the real engine (in its worker, on WebGPU) in headless Chromium, write the result, print per-phase
// timings. Options: --model URL-or-path-under-public (default /models/tar-shapes/), --scale, --size, --cfg, --top-k,
// --top-p, --temperature, --count, --candidates (the self-check's pictures per image), --drawings (the
// de-tokenizer's drawings per picture, the one TA-Tok reads back closest to its tokens kept), --seed, --max-new-tokens,
// --views (chat's test-time views of the picture), --preview-rows (a preview every N VQ-code rows; default 0: none,
// since only the final PNG is written and each preview costs a VQ decode). Exits 2 on bad arguments, 1 on engine
// errors.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { imageInput, openEnginePage } from './headless/driver.mjs';

const job = process.argv[2];
const { values } = parseArgs({
  args: process.argv.slice(3),
  options: {
    model: { type: 'string', default: '/models/tar-shapes/' },
    prompt: { type: 'string' },
    question: { type: 'string' },
    image: { type: 'string' },
    out: { type: 'string', default: 'out.png' },
    seed: { type: 'string' },
    scale: { type: 'string' },
    size: { type: 'string' },
    cfg: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    temperature: { type: 'string' },
    count: { type: 'string' },
    candidates: { type: 'string' },
    drawings: { type: 'string' },
    views: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    'preview-rows': { type: 'string', default: '0' },
  },
});

function usage(message) {
  console.error(`${message}\nusage: npm run imagine -- --prompt "…" [--seed N] [--out out.png]\n       npm run chat -- --question "…" [--image in.png]`);
  process.exit(2);
}

function number(name) {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) usage(`--${name} must be a number, got "${raw}"`);
  return value;
}

const defined = (object) => Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));

let request;
if (job === 'imagine') {
  if (!values.prompt) usage('--prompt is required');
  request = {
    model: values.model,
    options: defined({
      prompt: values.prompt,
      seed: number('seed'),
      scale: number('scale'),
      size: number('size'),
      cfg: number('cfg'),
      topK: number('top-k'),
      topP: number('top-p'),
      temperature: number('temperature'),
      count: number('count'),
      candidates: number('candidates'),
      drawings: number('drawings'),
      previewEveryRows: number('preview-rows'),
    }),
  };
} else if (job === 'chat') {
  if (!values.question) usage('--question is required');
  request = defined({
    model: values.model,
    question: values.question,
    image: values.image ? await imageInput(values.image) : undefined,
    maxNewTokens: number('max-new-tokens'),
    temperature: number('temperature'),
    seed: number('seed'),
    views: number('views'),
  });
} else {
  usage(`unknown job "${job}"`);
}

const { page, close } = await openEnginePage();
let exitCode = 0;
try {
  const result = await page.evaluate(([kind, r]) => window.tarHeadless[kind](r), [job, request]);
  if (job === 'imagine') {
    for (const [i, image] of result.images.entries()) {
      const path = result.images.length === 1 ? values.out : values.out.replace(/(\.png)?$/, `-${i}.png`);
      await writeFile(path, Buffer.from(image.png));
      console.log(`wrote ${path} (${image.width}×${image.height}, seed ${image.seed})`);
      if (image.selfCheck) {
        const { candidate, scores } = image.selfCheck;
        console.log(`  self-check kept candidate ${candidate} of ${scores.length} (log p: ${scores.map((s) => s.toFixed(2)).join(', ')})`);
      }
      if (image.roundTrip) {
        const { drawing, agreements } = image.roundTrip;
        console.log(`  round trip kept drawing ${drawing} of ${agreements.length} (tokens read back: ${agreements.join(', ')} of ${image.tokens.length})`);
      }
    }
    console.log(`previews: ${result.previews}`);
  } else {
    console.log(result.text);
  }
  console.log(`load ${result.loadMs.toFixed(0)} ms; job ${result.elapsedMs.toFixed(0)} ms`);
  for (const [phase, ms] of Object.entries(result.timings)) console.log(`  ${phase.padEnd(13)} ${ms.toFixed(0)} ms`);
} catch (error) {
  console.error(`${job} failed: ${error.message.split('\n')[0]}`);
  exitCode = 1;
} finally {
  await close();
}
process.exit(exitCode);
