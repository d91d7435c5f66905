// `npm run bench:graphs -- --graph LABEL=FILE.onnx [--graph LABEL=FILE.onnx …] [--dim NAME=N …] [--runs 9]
// [--warmup 2] [--out FILE.json]`: serves the repo with Vite, opens bench/graphs.html in headless Chromium with
// WebGPU and times each ONNX graph in onnxruntime-web on the engine's device, interleaved round by round (medians,
// and each graph's ratio to the first), then profiles one run of each: GPU milliseconds per kernel type from
// onnxruntime's profiler (timestamp queries). For two exports of one model (say a graph before and after a
// converter change, `git show REV:public/models/… > old.onnx`), or any package graph alone. Symbolic input
// dimensions are 1 unless --dim sets them (the decoders: --dim past_sequence=150 --dim total_sequence=151).
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
import { chromiumArgs, chromiumPath } from '../scripts/browser.mjs';
import { startQuietVite } from '../scripts/quiet-vite.mjs';
import { median } from './median.mjs';

const { values } = parseArgs({
  options: {
    graph: { type: 'string', multiple: true, default: [] },
    dim: { type: 'string', multiple: true, default: [] },
    runs: { type: 'string', default: '9' },
    warmup: { type: 'string', default: '2' },
    out: { type: 'string' },
  },
});

function pair(text, what) {
  const at = text.indexOf('=');
  if (at <= 0) {
    console.error(`--${what} takes NAME=VALUE, got "${text}"`);
    process.exit(2);
  }
  return [text.slice(0, at), text.slice(at + 1)];
}

const graphs = values.graph.map((g) => pair(g, 'graph'));
const dims = Object.fromEntries(values.dim.map((d) => pair(d, 'dim')).map(([k, v]) => [k, Number(v)]));
const runs = Number(values.runs);
const warmup = Number(values.warmup);
if (graphs.length === 0 || !Number.isInteger(runs) || runs < 1 || !Number.isInteger(warmup) || warmup < 0) {
  console.error('usage: npm run bench:graphs -- --graph LABEL=FILE.onnx [--graph …] [--dim NAME=N] [--runs 9] [--warmup 2] [--out FILE.json]');
  process.exit(2);
}
if (Object.values(dims).some((n) => !Number.isInteger(n) || n < 0)) {
  console.error('--dim values must be non-negative integers');
  process.exit(2);
}

/** onnxruntime's profile (a JSON array of trace events printed to the console) → GPU ms per kernel type of the
 *  last of `runsInProfile` runs. Kernel events ('Api') are named "<node>&<op>&<program>". */
function gpuByKernel(profileText, runsInProfile) {
  const kernels = JSON.parse(profileText).filter((e) => e.cat === 'Api');
  const lastRun = kernels.slice(kernels.length - kernels.length / runsInProfile);
  const byProgram = {};
  for (const event of lastRun) {
    const program = event.name.split('&').at(-1);
    byProgram[program] ??= { kernels: 0, ms: 0 };
    byProgram[program].kernels += 1;
    byProgram[program].ms += event.dur / 1000;
  }
  const total = lastRun.reduce((sum, e) => sum + e.dur / 1000, 0);
  return { totalMs: total, kernels: lastRun.length, byProgram: Object.fromEntries(Object.entries(byProgram).sort((a, b) => b[1].ms - a[1].ms)) };
}

const root = new URL('..', import.meta.url).pathname;
const { server, url } = await startQuietVite(root);
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
try {
  const page = await browser.newPage();
  // onnxruntime prints its profile as console lines: "[", one trace event per line, "]".
  let consoleLines = [];
  page.on('console', (msg) => consoleLines.push(msg.text()));
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  const files = await Promise.all(graphs.map(([, file]) => readFile(file)));
  await page.route('**/graph-bench/*.onnx', (route) => {
    const index = Number(new URL(route.request().url()).pathname.match(/(\d+)\.onnx$/)[1]);
    return route.fulfill({ body: files[index], contentType: 'application/octet-stream' });
  });
  await page.goto(`${url}/bench/graphs.html`);
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached' });
  const adapter = await page.evaluate(() => window.graphBench.adapter());
  const entries = graphs.map(([label], i) => ({ label, url: `${url}/graph-bench/${i}.onnx` }));
  const timings = await page.evaluate(({ entries, dims, runs, warmup }) => window.graphBench.compare(entries, dims, runs, warmup), { entries, dims, runs, warmup });
  const rows = [];
  for (const [i, entry] of entries.entries()) {
    consoleLines = [];
    await page.evaluate(({ url, dims, warmup }) => window.graphBench.profile(url, dims, warmup), { url: entry.url, dims, warmup });
    const from = consoleLines.indexOf('[');
    const to = consoleLines.lastIndexOf(']');
    if (from < 0 || to < from) throw new Error(`${entry.label}: onnxruntime printed no profile`);
    const profile = consoleLines.slice(from, to + 1).join('\n');
    const timing = timings[i];
    rows.push({ label: entry.label, file: graphs[i][1], medianMs: median(timing.runsMs), runsMs: timing.runsMs,
      outputElements: timing.outputElements, gpu: gpuByKernel(profile, warmup + 1) });
  }
  for (const row of rows) row.ratioToFirst = row.medianMs / rows[0].medianMs;
  for (const row of rows) {
    console.log(`${row.label}: median ${row.medianMs.toFixed(1)} ms over ${runs} runs (${row.ratioToFirst.toFixed(2)}× the first); ` +
      `GPU ${row.gpu.totalMs.toFixed(1)} ms in ${row.gpu.kernels} kernels`);
    for (const [program, { kernels, ms }] of Object.entries(row.gpu.byProgram).slice(0, 8)) {
      console.log(`  ${program.padEnd(28)} ${String(kernels).padStart(4)} kernels ${ms.toFixed(1).padStart(9)} ms`);
    }
  }
  if (values.out) {
    const result = { measured: new Date().toISOString(), adapter: adapter.adapter, dims, runs, warmup, graphs: rows };
    await writeFile(values.out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote ${values.out}`);
  }
} finally {
  await browser.close();
  await server.close();
}
