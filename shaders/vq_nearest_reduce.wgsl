// Codebook nearest neighbour, pass 3 of 3 (see vq_nearest.wgsl): per query, the best of all workgroup
// partials (larger dot, ties → lower row) → (row, cosine score = dot · invNorm). One workgroup per query.
// A query flagged non-finite by the prepare pass is reported as row 0xffffffff (the host raises
// InvalidInputError on it).

struct Params {
  queries: u32,      // N
  totalBlocks: u32,  // partials per query
}

override WORKGROUP_SIZE: u32 = 64u;
const LOWEST = -3.4028234e38;  // -FLT_MAX

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partialDot: array<f32>;       // [queryPad, totalBlocks]
@group(0) @binding(2) var<storage, read> partialRow: array<u32>;       // [queryPad, totalBlocks]
@group(0) @binding(3) var<storage, read> invNorm: array<f32>;          // [queryPad]
@group(0) @binding(4) var<storage, read_write> result: array<u32>;     // [N, 2]: row, score bits

var<workgroup> bestDot: array<f32, WORKGROUP_SIZE>;
var<workgroup> bestRow: array<u32, WORKGROUP_SIZE>;

fn better(dotA: f32, rowA: u32, dotB: f32, rowB: u32) -> bool {
  return dotA > dotB || (dotA == dotB && rowA < rowB);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let q = wid.x;
  var bDot = LOWEST;
  var bRow = 0xffffffffu;
  for (var b = lid; b < params.totalBlocks; b += WORKGROUP_SIZE) {
    let value = partialDot[q * params.totalBlocks + b];
    let row = partialRow[q * params.totalBlocks + b];
    if (better(value, row, bDot, bRow)) {
      bDot = value;
      bRow = row;
    }
  }
  bestDot[lid] = bDot;
  bestRow[lid] = bRow;
  workgroupBarrier();
  for (var step = WORKGROUP_SIZE / 2u; step > 0u; step >>= 1u) {
    if (lid < step && better(bestDot[lid + step], bestRow[lid + step], bestDot[lid], bestRow[lid])) {
      bestDot[lid] = bestDot[lid + step];
      bestRow[lid] = bestRow[lid + step];
    }
    workgroupBarrier();
  }
  if (lid == 0u && q < params.queries) {
    let scale = invNorm[q];
    result[2u * q] = select(bestRow[0], 0xffffffffu, scale < 0.0);
    result[2u * q + 1u] = bitcast<u32>(bestDot[0] * max(scale, 0.0));
  }
}
