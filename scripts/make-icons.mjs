// Draws the app icons into public/icons/ (run: node scripts/make-icons.mjs): a 3×3 mosaic of image tokens —
// sky, sun, hills — on a dark blue tile, i.e. a picture spelled in tokens. Pure Node: shapes as signed
// distances, 4×4 supersampling, PNGs encoded with zlib. The outputs are committed; rerun after a change here.
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const OUT = new URL('../public/icons/', import.meta.url);
const BACKGROUND_TOP = [0x2a, 0x35, 0x52];
const BACKGROUND_BOTTOM = [0x15, 0x1b, 0x2b];
// Row by row: sky, sun on the horizon, hills.
const TILES = [
  [[0x4f, 0x8d, 0xf7], [0x6a, 0xa6, 0xff], [0x4f, 0x8d, 0xf7]],
  [[0xff, 0x9f, 0x43], [0xff, 0xd1, 0x4d], [0xff, 0x7a, 0x59]],
  [[0x2e, 0xb8, 0x72], [0x27, 0x9a, 0x61], [0x3f, 0xcf, 0x86]],
];

/** Signed distance from (x, y) to a rounded rectangle centred at (cx, cy) with half sides h and radius r. */
function roundedBox(x, y, cx, cy, h, r) {
  const qx = Math.abs(x - cx) - h + r;
  const qy = Math.abs(y - cy) - h + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

/** Colour (RGBA, 0…1 alpha) at unit coordinates (u, v) ∈ [0, 1]². `maskable`: full bleed, content in the safe zone. */
function shade(u, v, maskable) {
  const inside = maskable ? -1 : roundedBox(u, v, 0.5, 0.5, 0.5, 0.18);
  if (inside > 0) return [0, 0, 0, 0];
  const t = v;
  let color = BACKGROUND_TOP.map((top, i) => top + (BACKGROUND_BOTTOM[i] - top) * t);
  const grid = maskable ? 0.5 : 0.66; // side of the mosaic; the maskable one stays inside the 80 % circle
  const cell = grid / 3;
  const gap = cell * 0.12;
  for (let row = 0; row < 3; row++) {
    for (let col = 0; col < 3; col++) {
      const cx = 0.5 - grid / 2 + cell * (col + 0.5);
      const cy = 0.5 - grid / 2 + cell * (row + 0.5);
      if (roundedBox(u, v, cx, cy, cell / 2 - gap / 2, cell * 0.16) <= 0) color = TILES[row][col];
    }
  }
  return [...color, 1];
}

function render(size, maskable) {
  const samples = 4;
  const rgba = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const sum = [0, 0, 0, 0];
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          const [r, g, b, a] = shade((x + (sx + 0.5) / samples) / size, (y + (sy + 0.5) / samples) / size, maskable);
          sum[0] += r * a;
          sum[1] += g * a;
          sum[2] += b * a;
          sum[3] += a;
        }
      }
      const o = (y * size + x) * 4;
      const alpha = sum[3] / samples ** 2;
      for (let i = 0; i < 3; i++) rgba[o + i] = sum[3] > 0 ? Math.round(sum[i] / sum[3]) : 0;
      rgba[o + 3] = Math.round(alpha * 255);
    }
  }
  return rgba;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** An 8-bit RGBA PNG (colour type 6), every row with filter 0. */
function encodePng(size, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8);
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) raw.set(rgba.subarray(y * size * 4, (y + 1) * size * 4), y * (size * 4 + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const ICONS = [
  { file: 'icon-192.png', size: 192, maskable: false },
  { file: 'icon-512.png', size: 512, maskable: false },
  { file: 'icon-maskable-512.png', size: 512, maskable: true },
  { file: 'apple-touch-icon.png', size: 180, maskable: true }, // iOS rounds the corners itself
  { file: 'favicon-32.png', size: 32, maskable: false },
];

mkdirSync(OUT, { recursive: true });
for (const { file, size, maskable } of ICONS) {
  writeFileSync(new URL(file, OUT), encodePng(size, render(size, maskable)));
  console.log(`public/icons/${file} (${size}×${size}${maskable ? ', maskable' : ''})`);
}
