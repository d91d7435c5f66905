// Sampling, sampled key histogram A (after sample_common.wgsl and sample_logits.wgsl): each workgroup
// counts key bits 31..20 of one chunk of sampled tokens — one token per block of `stride`, at a hashed
// offset so that periodic logits cannot fool it — into the row's histogram A. With
// LOCAL_HIST the counts go to workgroup memory first and only non-zero bins are added globally (the
// usual GPU choice); without it every count is a global atomic (SwiftShader, whose workgroup atomics
// cost ~20× its global ones). Grid: (chunks, rows).

override WORKGROUP_SIZE: u32 = 256u;
override ITEMS: u32 = 16u;  // tokens per thread
override LOCAL_HIST: bool = true;

@group(0) @binding(3) var<storage, read_write> hist: array<atomic<u32>>;  // [rows, 2, BINS]

var<workgroup> localHist: array<atomic<u32>, BINS>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn histogram(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y;
  if (LOCAL_HIST) {
    for (var b = lid; b < BINS; b += WORKGROUP_SIZE) {
      atomicStore(&localHist[b], 0u);
    }
  }
  workgroupBarrier();
  let base = row * 3u * BINS;
  let offsets = rowOffsets(row);
  let first = wid.x * WORKGROUP_SIZE * ITEMS + lid;
  for (var j = 0u; j < ITEMS; j++) {
    let block = first + j * WORKGROUP_SIZE;
    let i = params.lo + block * params.stride + (((block * 2654435761u) >> 24u) & (params.stride - 1u));
    if (i < params.hi) {
      let key = tokenKey(offsets, i);
      if (key != 0u) {
        if (LOCAL_HIST) {
          atomicAdd(&localHist[key >> 20u], 1u);
        } else {
          atomicAdd(&hist[base + (key >> 20u)], 1u);
        }
      }
    }
  }
  if (!LOCAL_HIST) {
    return;
  }
  workgroupBarrier();
  for (var b = lid; b < BINS; b += WORKGROUP_SIZE) {
    let c = atomicLoad(&localHist[b]);
    if (c != 0u) {
      atomicAdd(&hist[base + b], c);
    }
  }
}
