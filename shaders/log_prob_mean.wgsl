// The mean log-probabilities of several logits rows (one per view of the same picture: chat's test-time
// views), written over row 0 for the sampler: out[i] = (1/R) Σ_r (x[r, i] − lse_r), lse_r the log-sum-exp
// of row r's finite values. A value that is not finite in any row (a masked token) gives NaN, which the
// sampler never draws; so does a row with no finite value at all (its log-sum-exp is −∞). Two passes:
// row_lse (one workgroup per row: max, then the sum of exp(x − max)) and mean_rows (one invocation per
// token, rows summed in order).

struct Params {
  rows: u32,
  vocab: u32,
}

override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>; // [rows, vocab]; row 0 is overwritten
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;    // [rows]

// WGSL constant expressions may not be infinite or NaN: the lowest finite f32 starts the maximum, and NaN is
// made from bits at run time.
const LOWEST_BITS: u32 = 0xff7fffffu;
const NAN_BITS: u32 = 0x7fc00000u;

var<workgroup> part: array<f32, WORKGROUP_SIZE>;

fn isFinite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn row_lse(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let start = wid.x * params.vocab;
  var m = bitcast<f32>(LOWEST_BITS);
  for (var i = lid; i < params.vocab; i += WORKGROUP_SIZE) {
    let x = logits[start + i];
    if (isFinite(x)) {
      m = max(m, x);
    }
  }
  part[lid] = m;
  workgroupBarrier();
  for (var s = WORKGROUP_SIZE / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      part[lid] = max(part[lid], part[lid + s]);
    }
    workgroupBarrier();
  }
  let top = part[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var i = lid; i < params.vocab; i += WORKGROUP_SIZE) {
    let x = logits[start + i];
    if (isFinite(x)) {
      sum += exp(x - top);
    }
  }
  part[lid] = sum;
  workgroupBarrier();
  for (var s = WORKGROUP_SIZE / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      part[lid] += part[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    lse[wid.x] = top + log(part[0]);  // −∞ for a row with no finite value (log 0)
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn mean_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WORKGROUP_SIZE + lid;
  if (i >= params.vocab) {
    return;
  }
  var acc = 0.0;
  var finite = true;
  for (var r = 0u; r < params.rows; r++) {
    let x = logits[r * params.vocab + i] - lse[r];
    finite = finite && isFinite(x);
    acc += x;
  }
  let mean = acc / f32(params.rows);
  logits[i] = bitcast<f32>(select(NAN_BITS, bitcast<u32>(mean), finite));
}
