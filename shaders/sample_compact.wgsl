// Sampling, candidate gathering (after sample_common.wgsl and sample_logits.wgsl). Grid: (chunks, rows).
// level 1 (gather, after the level-0 pick): tokens above the chosen level-0 bin (fewer than k) go to
//   the row's candidate list; tokens inside it are counted into the level-1 histogram and appended to
//   the row's bucket list (up to BUCKET). When fewer than k keys are valid, every valid token goes to
//   the candidate list.
// level 2 (refill, after the level-1 pick): only when the bucket list overflowed — re-collects the
//   bucket tokens whose key ≥ the threshold; otherwise every workgroup returns at once.

override WORKGROUP_SIZE: u32 = 256u;
override ITEMS: u32 = 16u;
override CAP: u32 = 2048u;
override BUCKET: u32 = 16384u;

@group(0) @binding(3) var<storage, read_write> state: array<atomic<u32>>;  // [rows, STATE]
@group(0) @binding(4) var<storage, read_write> hist: array<atomic<u32>>;   // [rows, 2, BINS]
// [rows, CAP + BUCKET, 2]: (key, id); candidate list first, then the bucket list
@group(0) @binding(5) var<storage, read_write> cand: array<u32>;

fn append(row: u32, counter: u32, first: u32, limit: u32, key: u32, id: u32) {
  let slot = atomicAdd(&state[row * STATE + counter], 1u);
  if (slot < limit) {
    let at = (row * (CAP + BUCKET) + first + slot) * 2u;
    cand[at] = key;
    cand[at + 1u] = id;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn compact(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y;
  let s = row * STATE;
  let chosen = atomicLoad(&state[s]);
  let threshold = atomicLoad(&state[s + 2u]);
  if (params.level == 2u) {
    if (chosen == NO_TOKEN || atomicLoad(&state[s + 5u]) <= BUCKET || atomicLoad(&state[s + 4u]) > CAP) {
      return;
    }
  }
  let offsets = rowOffsets(row);
  let start = params.lo + wid.x * WORKGROUP_SIZE * ITEMS + lid;
  for (var j = 0u; j < ITEMS; j++) {
    let i = start + j * WORKGROUP_SIZE;
    if (i < params.hi) {
      let key = tokenKey(offsets, i);
      if (key != 0u) {
        let top = key >> 20u;
        if (params.level == 2u) {
          if (top == chosen && key >= threshold) {
            append(row, 6u, CAP, BUCKET, key, i);
          }
        } else if (chosen == NO_TOKEN || top > chosen) {
          append(row, 3u, 0u, CAP, key, i);
        } else if (top == chosen) {
          atomicAdd(&hist[(row * 2u + 1u) * BINS + ((key >> 8u) & 0xfffu)], 1u);
          append(row, 5u, CAP, BUCKET, key, i);
        }
      }
    }
  }
}
