// Where the Chromium binary lives and which flags give it WebGPU headless; shared by tests and benchmarks.
// Debian's package puts the real binary at /usr/lib/chromium/chromium (the /usr/bin wrapper adds flags).
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/lib/chromium/chromium';

export const chromiumArgs = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
];
