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
  level: u32,     // pass selector of pick_bin / compact (see those files)
  idBits: u32,    // bits that cover hi − lo − 1
  stride: u32,    // power of two: the first histogram sees one token in `stride`
  want0: u32,     // rank to find in that sampled histogram (k when stride = 1; more, to be safe, else)
  condFilter: u32, // 1 = conditional min-p filter (threshold per row in rowInfo word 3, see sample_threshold)
  condFloor: f32,  // f32(ln minP) of that filter
}

@group(0) @binding(0) var<uniform> params: Params;

const BINS: u32 = 4096u;        // histogram bins per level (12 key bits)
const NO_TOKEN: u32 = 0xffffffffu;
// hist: [rows, 3, BINS] u32 — A: sampled key bits 31..20; B: bits 31..20 of the gathered tokens (exact);
// C: bits 19..8 of the gathered tokens inside the chosen B bin.
// state: [rows, STATE] u32 — 0: gather floor (an A bin), 1: count above the chosen B bin, 2: candidate
// threshold key, 3: 1 once the threshold is final, 4: count of keys ≥ the threshold (NO_TOKEN: use the
// general path), 5: bucket-list appends, 6: chosen B bin.
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

// A value v such that every finite x with keyOf(x) ≥ key has x ≥ v (a pre-filter; the key decides).
fn valueFloor(key: u32) -> f32 {
  if (key <= 0x00800000u) {
    return bitcast<f32>(0xff7fffffu);
  }
  if (key >= 0xff800000u) {
    return bitcast<f32>(0x7f7fffffu);
  }
  return valueOf(key);
}

fn valueOf(key: u32) -> f32 {
  if ((key & 0x80000000u) != 0u) {
    return bitcast<f32>(key & 0x7fffffffu);
  }
  return bitcast<f32>(~key);
}
