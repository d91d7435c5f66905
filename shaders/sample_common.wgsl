// Shared by the sampling kernels (sample_*.wgsl; src/kernels/sample.ts concatenates this file first):
// the uniforms and the order key. A token's key is a u32 that orders like its processed f32 value
// (−0 folded into +0); key 0 marks a token that can never be drawn (value not finite). The draw order
// is key descending, then id ascending.

struct Params {
  vocab: u32,     // logits row length
  lo: u32,        // token range [lo, hi)
  hi: u32,
  topK: u32,      // 0 = disabled
  topP: f32,      // 1 = disabled
  invTemp: f32,   // f32(1 / temperature); unused when greedy
  greedy: u32,
  guided: u32,
  guidance: f32,  // l = l_u + guidance · (l_c − l_u)
  rows: u32,      // output rows
  general: u32,   // 1 = skip the candidate path (finish scans the whole range)
  level: u32,     // histogram/select level: 0 = key bits 31..20, 1 = bits 19..8 inside the level-0 bin
  idBits: u32,    // bits that cover hi − lo − 1
}

@group(0) @binding(0) var<uniform> params: Params;

const BINS: u32 = 4096u;        // histogram bins per level (12 key bits)
const NO_TOKEN: u32 = 0xffffffffu;
// state: [rows, STATE] u32 — 0: level-0 bin (NO_TOKEN: fewer than k valid keys), 1: count above it,
// 2: candidate threshold key, 3: candidate-list length, 4: count of keys ≥ the threshold,
// 5: bucket-list appends (gather), 6: bucket-list appends (refill)
const STATE: u32 = 8u;

fn keyOf(x: f32) -> u32 {
  var bits = bitcast<u32>(x);
  if ((bits & 0x7f800000u) == 0x7f800000u) {
    return 0u;
  }
  if (bits == 0x80000000u) {
    bits = 0u;
  }
  if ((bits & 0x80000000u) != 0u) {
    return ~bits;
  }
  return bits | 0x80000000u;
}

fn valueOf(key: u32) -> f32 {
  if ((key & 0x80000000u) != 0u) {
    return bitcast<f32>(key & 0x7fffffffu);
  }
  return bitcast<f32>(~key);
}
