// KV-cache append for attention (src/kernels/attention.ts): copies the new keys and values of T tokens,
// laid out as a projection produces them ([batch, T, kvHeads·headDim]), into the per-layer caches
// [batch, kvHeads, maxLen, headDim] at positions position..position+T-1, converting to the cache's storage
// type. One invocation per vec4 of the new keys (it also moves the matching vec4 of the values).
// It does not compute attention.

alias StoreT = f32;

struct Params {
  tokens: u32,    // T
  kvHeads: u32,
  headDim4: u32,  // headDim / 4
  maxLen: u32,
  position: u32,  // P: cache position of the first new token
  total: u32,     // batch · T · kvHeads · headDim4
}

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> newKeys: array<vec4<f32>>;              // [batch, T, kvHeads·headDim]
@group(0) @binding(2) var<storage, read> newValues: array<vec4<f32>>;            // [batch, T, kvHeads·headDim]
@group(0) @binding(3) var<storage, read_write> keyCache: array<vec4<StoreT>>;    // [batch, kvHeads, maxLen, headDim]
@group(0) @binding(4) var<storage, read_write> valueCache: array<vec4<StoreT>>;  // [batch, kvHeads, maxLen, headDim]

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * WORKGROUP_SIZE + lid;
  if (index >= params.total) {
    return;
  }
  let d4 = index % params.headDim4;
  let head = (index / params.headDim4) % params.kvHeads;
  let bt = index / (params.headDim4 * params.kvHeads);
  let t = bt % params.tokens;
  let b = bt / params.tokens;
  let dst = ((b * params.kvHeads + head) * params.maxLen + params.position + t) * params.headDim4 + d4;
  keyCache[dst] = vec4<StoreT>(newKeys[index]);
  valueCache[dst] = vec4<StoreT>(newValues[index]);
}
