// Makes sure the system packages that tests, benchmarks and tools need are installed: Debian's Chromium (for
// WebGPU tests) and, with --python, Debian's Python with torch and onnx (for tools/). As root on
// Debian/Ubuntu it installs what is missing with apt-get; otherwise it stops with one line saying what to
// install. With --optional (the demo command) a missing browser is only a note. With --train (training
// Tar-Shapes) it also wants an optimised BLAS: Debian's torch calls the system libblas, and the reference one is
// ~10x slower than OpenBLAS on the small matrices of that training.
import { existsSync } from 'node:fs';
import { execSync, spawnSync } from 'node:child_process';
import { chromiumPath } from './browser.mjs';

const optional = process.argv.includes('--optional');
const wantTrain = process.argv.includes('--train');
const wantPython = wantTrain || process.argv.includes('--python');
const PYTHON = '/usr/bin/python3';
const PYTHON_PACKAGES = ['python3-torch', 'python3-onnx', 'python3-numpy', 'python3-easydict', 'python3-pil'];

function pythonReady() {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, onnx, numpy, easydict, PIL'], { stdio: 'ignore' });
  return probe.status === 0;
}

const missing = [];
if (!existsSync(chromiumPath)) missing.push('chromium');
if (wantPython && !pythonReady()) missing.push(...PYTHON_PACKAGES);
if (wantTrain && !existsSync('/usr/lib/x86_64-linux-gnu/openblas-pthread') && !existsSync('/usr/lib/aarch64-linux-gnu/openblas-pthread')) {
  missing.push('libopenblas0-pthread');
}

if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (optional) {
    console.log(`note: no Chromium at ${chromiumPath}; open the printed URL in a browser with WebGPU.`);
  } else if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log(`Installing Debian packages: ${missing.join(' ')}`);
    execSync(`apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing.join(' ')}`, {
      stdio: 'inherit',
    });
  } else {
    console.error(`Missing system packages: run "sudo apt-get install ${missing.join(' ')}".`);
    process.exit(1);
  }
}
