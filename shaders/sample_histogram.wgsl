// Sampling, key histogram (after sample_common.wgsl and sample_logits.wgsl): each workgroup counts the
// keys of one chunk of one row's token range in workgroup memory and adds its non-zero bins to the
// row's global histogram. Level 0 bins key bits 31..20; level 1 bins bits 19..8 of the keys whose
// level-0 bin is the one `pick_bin` chose. Grid: (chunks, rows).

override WORKGROUP_SIZE: u32 = 256u;
override ITEMS: u32 = 16u;  // tokens per thread

@group(0) @binding(3) var<storage, read_write> hist: array<atomic<u32>>;  // [rows, 2, BINS]
@group(0) @binding(4) var<storage, read> state: array<u32>;               // [rows, STATE]

var<workgroup> localHist: array<atomic<u32>, BINS>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn histogram(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y;
  for (var b = lid; b < BINS; b += WORKGROUP_SIZE) {
    atomicStore(&localHist[b], 0u);
  }
  var chosen = 0u;
  if (params.level == 1u) {
    chosen = state[row * STATE];
  }
  workgroupBarrier();
  let start = params.lo + wid.x * WORKGROUP_SIZE * ITEMS + lid;
  for (var j = 0u; j < ITEMS; j++) {
    let i = start + j * WORKGROUP_SIZE;
    if (i < params.hi) {
      let key = tokenKey(row, i);
      if (key != 0u) {
        if (params.level == 0u) {
          atomicAdd(&localHist[key >> 20u], 1u);
        } else if ((key >> 20u) == chosen) {
          atomicAdd(&localHist[(key >> 8u) & 0xfffu], 1u);
        }
      }
    }
  }
  workgroupBarrier();
  let base = (row * 2u + params.level) * BINS;
  for (var b = lid; b < BINS; b += WORKGROUP_SIZE) {
    let c = atomicLoad(&localHist[b]);
    if (c != 0u) {
      atomicAdd(&hist[base + b], c);
    }
  }
}
