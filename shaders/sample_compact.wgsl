// Sampling, candidate compaction (after sample_common.wgsl and sample_logits.wgsl): every token whose
// key is ≥ the row's threshold appends (key, id) to the row's candidate list; entries past CAP are
// counted but not written (the finish kernel then scans the whole range instead). Grid: (chunks, rows).

override WORKGROUP_SIZE: u32 = 256u;
override ITEMS: u32 = 16u;
override CAP: u32 = 2048u;

@group(0) @binding(3) var<storage, read_write> state: array<atomic<u32>>;  // [rows, STATE]
@group(0) @binding(4) var<storage, read_write> cand: array<u32>;           // [rows, CAP, 2]: key, id

@compute @workgroup_size(WORKGROUP_SIZE)
fn compact(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y;
  let s = row * STATE;
  let threshold = atomicLoad(&state[s + 2u]);
  if (atomicLoad(&state[s + 4u]) > CAP) {
    return;
  }
  let start = params.lo + wid.x * WORKGROUP_SIZE * ITEMS + lid;
  for (var j = 0u; j < ITEMS; j++) {
    let i = start + j * WORKGROUP_SIZE;
    if (i < params.hi) {
      let key = tokenKey(row, i);
      if (key != 0u && key >= threshold) {
        let slot = atomicAdd(&state[s + 3u], 1u);
        if (slot < CAP) {
          cand[(row * CAP + slot) * 2u] = key;
          cand[(row * CAP + slot) * 2u + 1u] = i;
        }
      }
    }
  }
}
