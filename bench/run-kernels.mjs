// `npm run bench:kernels`: serves the repo with Vite, opens bench/kernels.html in headless Chromium with
// WebGPU, runs every benchmark case (ours and the baseline side by side on the same adapter), writes
// bench/results/kernels.json (+ the adapter in kernels.adapter.json) and refreshes the table in README.md.
//   --only a,b   run only these cases (default: all, fma_ceiling first)
//   --no-readme  do not touch README.md
import { writeFile, readFile, mkdir } from 'node:fs/promises';
import { chromium } from '@playwright/test';
import { chromiumArgs, chromiumPath } from '../scripts/browser.mjs';
import { startQuietVite } from '../scripts/quiet-vite.mjs';

const args = process.argv.slice(2);
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? (args[onlyIndex + 1] ?? '').split(',') : null;
const updateReadme = !args.includes('--no-readme');
const root = new URL('..', import.meta.url);
const resultsDir = new URL('bench/results/', root);

function markdownTable(rows, adapter) {
  const fmt = (v, digits = 1) => (v === undefined ? '' : Number(v).toFixed(digits));
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${adapter.adapter.vendor} ${adapter.adapter.architecture}` +
      `${adapter.adapter.isFallbackAdapter ? ' (software fallback adapter)' : ''}; medians; ` +
      '`npm run bench:kernels` regenerates this table and `bench/results/kernels.json`.',
    '',
    '| name | shape | ours ms | baseline | baseline ms | speedup | ours GFLOP/s | of ceiling |',
    '|---|---|---:|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.shape} | ${fmt(r.ours_ms, 2)} | ${r.baseline} | ${fmt(r.baseline_ms, 2)} | ` +
        `${fmt(r.speedup, 2)}× | ${fmt(r.ours_gflops, 2)} | ${r.fraction_of_ceiling === undefined ? '' : `${(r.fraction_of_ceiling * 100).toFixed(0)}%`} |`,
    );
  }
  return lines.join('\n');
}

async function refreshReadme(table) {
  const readmeUrl = new URL('README.md', root);
  const readme = await readFile(readmeUrl, 'utf8');
  const start = '<!-- bench:kernels:start -->';
  const end = '<!-- bench:kernels:end -->';
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error('README.md has no bench:kernels markers');
  await writeFile(readmeUrl, `${readme.slice(0, from + start.length)}\n${table}\n${readme.slice(to)}`);
}

const { server, url } = await startQuietVite(root.pathname);
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
try {
  const page = await browser.newPage();
  page.on('console', (msg) => {
    if (msg.text().startsWith('[bench]')) console.log(msg.text());
  });
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(`${url}/bench/kernels.html`);
  await page.waitForSelector('body[data-ready="true"]');
  const adapter = await page.evaluate(() => window.bench.adapter());
  const names = (await page.evaluate(() => window.bench.names())).filter((n) => !only || only.includes(n));
  const rows = [];
  for (const name of names) {
    console.log(`running ${name} ...`);
    const caseRows = await page.evaluate((n) => window.bench.run(n), name);
    for (const row of caseRows) console.log(JSON.stringify(row));
    rows.push(...caseRows);
  }
  await mkdir(resultsDir, { recursive: true });
  await writeFile(new URL('kernels.json', resultsDir), `${JSON.stringify(rows, null, 2)}\n`);
  await writeFile(new URL('kernels.adapter.json', resultsDir), `${JSON.stringify(adapter, null, 2)}\n`);
  const table = markdownTable(rows, adapter);
  console.log(`\n${table}`);
  if (updateReadme && !only) await refreshReadme(table);
} finally {
  await browser.close();
  await server.close();
}
