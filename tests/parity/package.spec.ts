// The tiny package as written by `npm run make-tiny`: parseManifest accepts it, every listed file exists
// with its size and sha256, nothing unlisted lies in the folder, and the raw tables equal the goldens that
// name them (`output.<table file stem>`).
import { expect, test } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { tableByteLength } from '../../src/model/manifest.ts';
import { compareOutput } from './golden-runner.ts';
import { COMPONENTS, goldensOf, manifestWith, PACKAGE_DIR, rawManifest, tinyManifest } from './tiny-package.ts';
import { Tensor } from 'onnxruntime-node';

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [relative(PACKAGE_DIR, join(dir, e.name)).split(sep).join('/')],
  );
}

test('parseManifest accepts the tiny manifest, and it holds every component', () => {
  const manifest = tinyManifest();
  expect(manifest.modelId).toBeTruthy();
  const missing = COMPONENTS.filter((c) => !(c in manifest.components));
  expect(missing, `components missing from the tiny package: ${missing.join(', ')}`).toEqual([]);
  // The manifest round-trips through the validator unchanged.
  expect(manifest).toEqual(rawManifest());
});

test('every file of the tiny package has the listed size and sha256, and none is unlisted', () => {
  const manifest = tinyManifest();
  const problems: string[] = [];
  for (const f of manifest.files) {
    const path = join(PACKAGE_DIR, f.path);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      problems.push(`${f.path}: listed but missing`);
      continue;
    }
    if (bytes.byteLength !== f.bytes) problems.push(`${f.path}: ${bytes.byteLength} bytes, manifest says ${f.bytes}`);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== f.sha256) problems.push(`${f.path}: sha256 ${sha}, manifest says ${f.sha256}`);
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const path of walk(PACKAGE_DIR)) {
    if (path !== 'manifest.json' && !listed.has(path)) problems.push(`${path}: in the package folder but not in the manifest`);
  }
  expect(problems).toEqual([]);
  const total = manifest.files.reduce((s, f) => s + f.bytes, 0);
  test.info().annotations.push({ type: 'package', description: `${manifest.files.length} files, ${total} bytes` });
  expect(statSync(join(PACKAGE_DIR, 'manifest.json')).isFile()).toBe(true);
});

test('raw tables match the goldens that name them', () => {
  const manifest = manifestWith('tatok');
  const checked: string[] = [];
  const problems: string[] = [];
  for (const component of COMPONENTS) {
    const comp = manifest.components[component];
    if (!comp?.tables) continue;
    const goldens = goldensOf(component);
    for (const [role, table] of Object.entries(comp.tables)) {
      const path = (comp.files as Record<string, string>)[role] as string;
      const stem = path.slice(path.lastIndexOf('/') + 1).replace(/\.bin$/, '');
      const golden = goldens.tensors.get(`output.${stem}`);
      if (!golden) continue;
      expect(table.dtype, `${component}.${role}: the tiny package stores float32`).toBe('float32');
      const raw = readFileSync(join(PACKAGE_DIR, path));
      expect(raw.byteLength).toBe(tableByteLength(table));
      const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const report = compareOutput(role, `output.${stem}`, new Tensor('float32', data, table.shape), golden);
      if (report.mismatches > 0) problems.push(`${component}.${role}: ${report.mismatches} of ${report.count} differ (max abs ${report.maxAbsError})`);
      checked.push(`${component}.${role}`);
    }
  }
  expect(problems).toEqual([]);
  // TA-Tok's decoder position table has a golden (tools/tiny/tatok.py); losing it would silently drop this check.
  expect(checked).toContain('tatok.decoderPositions');
  test.info().annotations.push({ type: 'tables', description: checked.join(', ') });
});
