// Sampling, candidate search (after sample_common.wgsl): `clear` zeroes the histograms and the per-row
// state; `pick_bin` (one workgroup per output row) walks a level's histogram from the top bin down and
// finds the bin that holds the k-th largest key. Level 0 records that bin and the count above it;
// level 1 turns the two bins into the candidate threshold key and the exact count of keys ≥ it.

override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(1) var<storage, read_write> hist: array<u32>;   // [rows, 2, BINS]
@group(0) @binding(2) var<storage, read_write> state: array<u32>;  // [rows, STATE]

var<workgroup> partial: array<u32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn clear(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * WORKGROUP_SIZE + lid;
  if (index < params.rows * 2u * BINS) {
    hist[index] = 0u;
  }
  if (index < params.rows * STATE) {
    state[index] = 0u;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn pick_bin(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  let s = row * STATE;
  let base = (row * 2u + params.level) * BINS;
  let per = BINS / WORKGROUP_SIZE;
  var sum = 0u;
  for (var j = 0u; j < per; j++) {
    sum += hist[base + lid * per + j];
  }
  partial[lid] = sum;
  workgroupBarrier();
  if (lid != 0u) {
    return;
  }
  if (params.level == 1u && state[s] == NO_TOKEN) {
    return;
  }
  var want = params.topK;
  if (params.level == 1u) {
    want = params.topK - state[s + 1u];
  }
  // Walk thread chunks from the top, then the bins of the chunk that crosses `want`.
  var above = 0u;
  var t = WORKGROUP_SIZE;
  loop {
    if (t == 0u) {
      break;
    }
    if (above + partial[t - 1u] >= want) {
      break;
    }
    above += partial[t - 1u];
    t--;
  }
  if (t == 0u) {
    // Fewer valid keys than k: every valid token is a candidate.
    state[s] = NO_TOKEN;
    state[s + 2u] = 1u;
    state[s + 4u] = above;
    return;
  }
  var bin = t * per;
  loop {
    bin--;
    let c = hist[base + bin];
    if (above + c >= want) {
      break;
    }
    above += c;
  }
  if (params.level == 0u) {
    state[s] = bin;
    state[s + 1u] = above;
  } else {
    state[s + 2u] = (state[s] << 20u) | (bin << 8u);
    state[s + 4u] = state[s + 1u] + above + hist[base + bin];
  }
}
