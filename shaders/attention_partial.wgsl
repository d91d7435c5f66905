// Split-K ("flash-decoding") attention, pass 1 of 2 (src/kernels/attention.ts). Each invocation takes one
// query row (batch b, token t, query head h) and one slice of `chunk` cache positions, and computes over the
// causal part of its slice (positions ≤ position + t) the online-softmax partials: the running max m of the
// scaled scores, the sum l of exp(score - m), and the unnormalised weighted sum of values. Grouped-query:
// query head h reads kv head h / (qHeads / kvHeads). Positions are taken eight at a time (two vec4s of scores);
// the hot loops are plain vec4 loads, no workgroup memory, no barriers. attention_combine.wgsl merges the
// slices; this pass does not normalise.

alias StoreT = f32;

struct Params {
  tokens: u32,    // T
  qHeads: u32,
  kvHeads: u32,
  headDim4: u32,  // headDim / 4
  maxLen: u32,
  position: u32,  // P: cache position of the first query token
  splits: u32,    // slices per query row
  chunk: u32,     // cache positions per slice (a multiple of 8)
  total: u32,     // batch · T · qHeads · splits
  scale: f32,
}

override WORKGROUP_SIZE: u32 = 64u;

// Stands in for -infinity: exp(EMPTY - m) underflows to 0 for any finite score m.
const EMPTY: f32 = -1e30;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> query: array<vec4<f32>>;           // [batch, T, qHeads·headDim]
@group(0) @binding(2) var<storage, read> keyCache: array<vec4<StoreT>>;     // [batch, kvHeads, maxLen, headDim]
@group(0) @binding(3) var<storage, read> valueCache: array<vec4<StoreT>>;   // [batch, kvHeads, maxLen, headDim]
@group(0) @binding(4) var<storage, read_write> partialValues: array<vec4<f32>>;  // [batch·T·qHeads, splits, headDim]
@group(0) @binding(5) var<storage, read_write> partialStats: array<vec2<f32>>;   // [batch·T·qHeads, splits] (m, l)

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * WORKGROUP_SIZE + lid;
  if (index >= params.total) {
    return;
  }
  let hd4 = params.headDim4;
  let split = index % params.splits;
  let row = index / params.splits;  // (b · T + t) · qHeads + h
  let h = row % params.qHeads;
  let t = (row / params.qHeads) % params.tokens;
  let b = row / (params.qHeads * params.tokens);
  let kvHead = h / (params.qHeads / params.kvHeads);
  let start = split * params.chunk;
  let end = min(params.position + t + 1u, start + params.chunk);
  let qBase = row * hd4;
  let cacheBase = (b * params.kvHeads + kvHead) * params.maxLen;
  let outBase = index * hd4;

  var m = EMPTY;
  var l = 0.0;
  if (start < end) {
    for (var d = 0u; d < hd4; d++) {
      partialValues[outBase + d] = vec4<f32>(0.0);
    }
  }
  for (var p = start; p < end; p += 8u) {
    // Positions past `end` re-read the last valid one and get weight 0.
    let last = end - 1u;
    let k0 = (cacheBase + p) * hd4;
    let k1 = (cacheBase + min(p + 1u, last)) * hd4;
    let k2 = (cacheBase + min(p + 2u, last)) * hd4;
    let k3 = (cacheBase + min(p + 3u, last)) * hd4;
    let k4 = (cacheBase + min(p + 4u, last)) * hd4;
    let k5 = (cacheBase + min(p + 5u, last)) * hd4;
    let k6 = (cacheBase + min(p + 6u, last)) * hd4;
    let k7 = (cacheBase + min(p + 7u, last)) * hd4;
    var s = vec4<f32>(0.0);
    var u = vec4<f32>(0.0);
    for (var d = 0u; d < hd4; d++) {
      let qv = query[qBase + d];
      s += vec4<f32>(dot(qv, vec4<f32>(keyCache[k0 + d])), dot(qv, vec4<f32>(keyCache[k1 + d])),
                     dot(qv, vec4<f32>(keyCache[k2 + d])), dot(qv, vec4<f32>(keyCache[k3 + d])));
      u += vec4<f32>(dot(qv, vec4<f32>(keyCache[k4 + d])), dot(qv, vec4<f32>(keyCache[k5 + d])),
                     dot(qv, vec4<f32>(keyCache[k6 + d])), dot(qv, vec4<f32>(keyCache[k7 + d])));
    }
    s = select(vec4<f32>(EMPTY), s * params.scale, vec4<u32>(p, p + 1u, p + 2u, p + 3u) < vec4<u32>(end));
    u = select(vec4<f32>(EMPTY), u * params.scale, vec4<u32>(p + 4u, p + 5u, p + 6u, p + 7u) < vec4<u32>(end));
    let top = max(s, u);
    let mNew = max(m, max(max(top.x, top.y), max(top.z, top.w)));
    let correction = exp(m - mNew);
    let e = exp(s - vec4<f32>(mNew));
    let f = exp(u - vec4<f32>(mNew));
    l = l * correction + dot(e + f, vec4<f32>(1.0));
    for (var d = 0u; d < hd4; d++) {
      let o = outBase + d;
      partialValues[o] = partialValues[o] * correction
        + e.x * vec4<f32>(valueCache[k0 + d]) + e.y * vec4<f32>(valueCache[k1 + d])
        + e.z * vec4<f32>(valueCache[k2 + d]) + e.w * vec4<f32>(valueCache[k3 + d])
        + f.x * vec4<f32>(valueCache[k4 + d]) + f.y * vec4<f32>(valueCache[k5 + d])
        + f.z * vec4<f32>(valueCache[k6 + d]) + f.w * vec4<f32>(valueCache[k7 + d]);
    }
    m = mNew;
  }
  partialStats[index] = vec2<f32>(m, l);
}
