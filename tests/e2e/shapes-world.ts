// What the end-to-end specs know about the embedded default model (Tar-Shapes, public/models/tar-shapes/): its
// manifest's sizes, and the Tar-Shapes world's own Python tools (tools/shapes/) to render a held-out scene and to
// score a drawn picture against its prompt or an answer against the truth. Not a model: every judgement here is
// the deterministic evaluator's (docs/tar-shapes.md).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = '/usr/bin/python3';
export const DEFAULT_PACKAGE = 'public/models/tar-shapes';

interface ManifestFile {
  path: string;
  bytes: number;
}

function manifest(): { modelId: string; files: ManifestFile[] } {
  return JSON.parse(readFileSync(join(ROOT, DEFAULT_PACKAGE, 'manifest.json'), 'utf8'));
}

export const DEFAULT_MODEL_ID = manifest().modelId;

/** Bytes of the whole package, or of one of its files. */
export function packageBytes(path?: string): number {
  const files = manifest().files.filter((f) => path === undefined || f.path === path);
  if (files.length === 0) throw new Error(`${DEFAULT_PACKAGE}/manifest.json lists no ${path}`);
  return files.reduce((sum, f) => sum + f.bytes, 0);
}

function python(code: string, args: string[]): string {
  return execFileSync(PYTHON, ['-c', code, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PYTHONPATH: ROOT } });
}

export interface PictureReading {
  background: string;
  objects: { colour: string; shape: string; size: string; position: string }[];
  matches_prompt: boolean;
}

/** The evaluator's reading of a PNG drawn for `prompt` (tools/shapes/evaluate.py --image --prompt). */
export function readPicture(png: Buffer, prompt: string): PictureReading {
  const dir = mkdtempSync(join(tmpdir(), 'tar-shapes-'));
  try {
    const file = join(dir, 'picture.png');
    writeFileSync(file, png);
    return JSON.parse(execFileSync(PYTHON, ['-m', 'tools.shapes.evaluate', '--image', file, '--prompt', prompt], { cwd: ROOT, encoding: 'utf8' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface HeldOutScene {
  png: Buffer;
  caption: string;
  questions: [string, string][];
}

/** Held-out test scene `index` of the world (at least one colour–shape–place triple never seen in training),
 *  rendered as the world renders it, with its canonical caption and its questions and true answers. */
export function heldOutScene(index: number): HeldOutScene {
  const out = python(
    [
      'import base64, io, json, sys',
      'from PIL import Image',
      'from tools.shapes import data, world',
      'scene = data.scene_list("test")[int(sys.argv[1])]',
      'png = io.BytesIO()',
      'Image.fromarray(world.render(scene)).save(png, format="PNG")',
      'print(json.dumps({"png": base64.b64encode(png.getvalue()).decode(), "caption": world.canonical_caption(scene),',
      '                  "questions": world.questions(scene, phrasings=1)}))',
    ].join('\n'),
    [String(index)],
  );
  const parsed = JSON.parse(out) as { png: string; caption: string; questions: [string, string][] };
  return { png: Buffer.from(parsed.png, 'base64'), caption: parsed.caption, questions: parsed.questions };
}

/** Whether `answer` to `question` is right for `truth`, as the evaluator scores chat answers. */
export function answerIsRight(question: string, truth: string, answer: string): boolean {
  const out = python(
    'import json, sys\nfrom tools.shapes import evaluate\nprint(json.dumps(bool(evaluate.score_answer(*sys.argv[1:4]))))',
    [question, truth, answer],
  );
  return JSON.parse(out) as boolean;
}
