// Sampling, gathering (after sample_common.wgsl and sample_logits.wgsl). Grid: (chunks, rows).
// level 1 (gather): every token whose key bits 31..20 are ≥ the gather floor is counted into histogram
//   B and appended to the row's bucket list (up to BUCKET entries).
// level 2 (bucket histogram): the bucket-list entries inside the chosen B bin are counted by key bits
//   19..8 into histogram C; rows whose threshold is already final skip it.

override WORKGROUP_SIZE: u32 = 256u;
override ITEMS: u32 = 16u;
override BUCKET: u32 = 16384u;

@group(0) @binding(3) var<storage, read_write> state: array<atomic<u32>>;  // [rows, STATE]
@group(0) @binding(4) var<storage, read_write> hist: array<atomic<u32>>;   // [rows, 3, BINS]
@group(0) @binding(5) var<storage, read_write> bucket: array<u32>;         // [rows, BUCKET, 2]: key, id

@compute @workgroup_size(WORKGROUP_SIZE)
fn compact(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y;
  let s = row * STATE;
  let first = wid.x * WORKGROUP_SIZE * ITEMS + lid;
  if (params.level == 2u) {
    if (atomicLoad(&state[s + 3u]) != 0u) {
      return;
    }
    let chosen = atomicLoad(&state[s + 6u]);
    let count = min(atomicLoad(&state[s + 5u]), BUCKET);
    for (var j = 0u; j < ITEMS; j++) {
      let e = first + j * WORKGROUP_SIZE;
      if (e < count) {
        let key = bucket[(row * BUCKET + e) * 2u];
        if ((key >> 20u) == chosen) {
          atomicAdd(&hist[(row * 3u + 2u) * BINS + ((key >> 8u) & 0xfffu)], 1u);
        }
      }
    }
    return;
  }
  let gatherFloor = atomicLoad(&state[s]);
  // Keys are monotone in the value: compare values first, key only the (few) tokens that pass.
  let floorValue = valueFloor(gatherFloor << 20u);
  let offsets = rowOffsets(row);
  for (var j = 0u; j < ITEMS; j++) {
    let i = params.lo + first + j * WORKGROUP_SIZE;
    if (i < params.hi) {
      let x = tokenValue(offsets, i);
      if (!(x >= floorValue) || !kept(offsets, i)) {
        continue;
      }
      let key = keyOf(x);
      if (key != 0u && (key >> 20u) >= gatherFloor) {
        atomicAdd(&hist[(row * 3u + 1u) * BINS + (key >> 20u)], 1u);
        let slot = atomicAdd(&state[s + 5u], 1u);
        if (slot < BUCKET) {
          bucket[(row * BUCKET + slot) * 2u] = key;
          bucket[(row * BUCKET + slot) * 2u + 1u] = i;
        }
      }
    }
  }
}
