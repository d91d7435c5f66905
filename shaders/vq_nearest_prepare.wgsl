// Codebook nearest neighbour, pass 1 of 3 (see vq_nearest.wgsl): queries [N, D] (row-major f32) →
// transposed, zero-padded queriesT [D, queryPad], and per query 1/max(|q|, 1e-12) (F.normalize's eps),
// or -1 when the query holds a NaN or an infinity. One invocation per (padded) query.

struct Params {
  dim: u32,       // D
  queries: u32,   // N
  queryPad: u32,  // columns of queriesT (N rounded up to the partial pass's query tile)
}

override WORKGROUP_SIZE: u32 = 64u;
const NORM_EPS = 1e-12;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<f32>;            // [N, D]
@group(0) @binding(2) var<storage, read_write> queriesT: array<f32>;     // [D, queryPad]
@group(0) @binding(3) var<storage, read_write> invNorm: array<f32>;      // [queryPad]; -1 = not finite

fn isFinite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  if (q >= params.queryPad) {
    return;
  }
  if (q >= params.queries) {
    for (var d = 0u; d < params.dim; d++) {
      queriesT[d * params.queryPad + q] = 0.0;
    }
    invNorm[q] = 0.0;
    return;
  }
  var sumSq = 0.0;
  var finite = true;
  for (var d = 0u; d < params.dim; d++) {
    let x = queries[q * params.dim + d];
    finite = finite && isFinite(x);
    sumSq = fma(x, x, sumSq);
    queriesT[d * params.queryPad + q] = x;
  }
  invNorm[q] = select(-1.0, 1.0 / max(sqrt(sumSq), NORM_EPS), finite);
}
