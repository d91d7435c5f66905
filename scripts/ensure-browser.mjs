// Makes sure a Chromium with WebGPU is installed before tests or benchmarks run.
// As root on Debian/Ubuntu it installs the distribution's package; otherwise it stops with one line
// saying what to install. With --optional (the demo command) a missing browser is only a note.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { chromiumPath } from './browser.mjs';

const optional = process.argv.includes('--optional');

if (!existsSync(chromiumPath)) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (optional) {
    console.log(`note: no Chromium at ${chromiumPath}; open the printed URL in a browser with WebGPU.`);
  } else if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log('Installing Debian chromium (apt-get)...');
    execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium', {
      stdio: 'inherit',
    });
  } else {
    console.error(`Chromium is missing: run "sudo apt-get install chromium" (or set CHROMIUM_PATH).`);
    process.exit(1);
  }
}
