// Split-K attention, pass 2 of 2 (src/kernels/attention.ts): merges the per-slice online-softmax partials of
// attention_partial.wgsl into the normalised output, out = Σ_s e^(m_s - M)·acc_s / Σ_s e^(m_s - M)·l_s with
// M = max_s m_s. Slices with no causal positions (l = 0) are skipped. One invocation per output vec4.

struct Params {
  headDim4: u32,  // headDim / 4
  splits: u32,
  total: u32,     // batch · T · qHeads · headDim4
}

override WORKGROUP_SIZE: u32 = 64u;

const EMPTY: f32 = -1e30;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partialValues: array<vec4<f32>>;  // [batch·T·qHeads, splits, headDim]
@group(0) @binding(2) var<storage, read> partialStats: array<vec2<f32>>;   // [batch·T·qHeads, splits] (m, l)
@group(0) @binding(3) var<storage, read_write> output: array<vec4<f32>>;   // [batch, T, qHeads·headDim]

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * WORKGROUP_SIZE + lid;
  if (index >= params.total) {
    return;
  }
  let d = index % params.headDim4;
  let row = index / params.headDim4;
  let statsBase = row * params.splits;
  var mMax = EMPTY;
  for (var s = 0u; s < params.splits; s++) {
    let st = partialStats[statsBase + s];
    if (st.y > 0.0) {
      mMax = max(mMax, st.x);
    }
  }
  var numerator = vec4<f32>(0.0);
  var denominator = 0.0;
  for (var s = 0u; s < params.splits; s++) {
    let st = partialStats[statsBase + s];
    if (st.y > 0.0) {
      let w = exp(st.x - mMax);
      numerator += w * partialValues[(statsBase + s) * params.headDim4 + d];
      denominator += w * st.y;
    }
  }
  output[index] = numerator / denominator;
}
