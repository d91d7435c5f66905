// Sampling, threshold search (after sample_common.wgsl): `clear` zeroes the histograms and the per-row
// state; `pick_bin` (one workgroup per output row) walks one histogram from the top bin down to the bin
// that holds the wanted rank:
//   level 0, histogram A (sampled): the gather floor — a bin low enough that, with high probability,
//     at least k tokens lie at or above it (want0 includes a margin; stride 1 makes it exact);
//   level 1, histogram B (exact, gathered tokens): the bin holding the k-th largest key. Fewer than k
//     gathered tokens: with stride 1, or with the gather floor at bin 0 (every valid token was gathered:
//     a row with fewer valid tokens than k, as the conditional min-p filter leaves), every valid token is
//     a candidate, else the sample misled and the row takes the general path; so does a row whose bucket
//     list overflowed;
//   level 2, histogram C: inside that bin; gives the threshold key and the exact count at or above it.

override WORKGROUP_SIZE: u32 = 256u;
override BUCKET: u32 = 16384u;  // bucket-list entries per row

@group(0) @binding(1) var<storage, read_write> hist: array<u32>;   // [rows, 3, BINS]
@group(0) @binding(2) var<storage, read_write> state: array<u32>;  // [rows, STATE]

var<workgroup> partial: array<u32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn clear(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * WORKGROUP_SIZE + lid;
  if (index < params.rows * 3u * BINS) {
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
  let base = (row * 3u + params.level) * BINS;
  let per = BINS / WORKGROUP_SIZE;
  var sum = 0u;
  for (var j = 0u; j < per; j++) {
    sum += hist[base + lid * per + j];
  }
  partial[lid] = sum;
  workgroupBarrier();
  if (lid != 0u || (params.level > 0u && state[s + 3u] != 0u)) {
    return;
  }
  var want = params.want0;
  if (params.level == 1u) {
    want = params.topK;
  } else if (params.level == 2u) {
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
    if (params.level == 0u) {
      state[s] = 0u;
    } else if ((params.stride == 1u || state[s] == 0u) && state[s + 5u] <= BUCKET) {
      state[s + 2u] = 1u;
      state[s + 3u] = 1u;
      state[s + 4u] = above;
    } else {
      state[s + 3u] = 1u;
      state[s + 4u] = NO_TOKEN;
    }
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
  } else if (params.level == 1u) {
    if (state[s + 5u] > BUCKET) {
      state[s + 3u] = 1u;
      state[s + 4u] = NO_TOKEN;
    } else {
      state[s + 6u] = bin;
      state[s + 1u] = above;
    }
  } else {
    state[s + 2u] = (state[s + 6u] << 20u) | (bin << 8u);
    state[s + 3u] = 1u;
    state[s + 4u] = state[s + 1u] + above + hist[base + bin];
  }
}
