// Scale-adaptive average pooling (TA-Tok SAP, TAR_SPEC §1.4): tokens laid out as a row-major grid
// [batch, height·width, channels] are averaged over scale×scale windows (kernel = stride, no padding,
// floor), giving [batch, outHeight·outWidth, channels]. One invocation per output element.

struct Params {
  batch: u32,
  height: u32,
  width: u32,
  channels: u32,
  scale: u32,
  outHeight: u32,
  outWidth: u32,
  total: u32,  // batch · outHeight · outWidth · channels
}

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tokens: array<f32>;       // [batch, height·width, channels]
@group(0) @binding(2) var<storage, read_write> pooled: array<f32>; // [batch, outHeight·outWidth, channels]

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * WORKGROUP_SIZE + lid;
  if (index >= params.total) {
    return;
  }
  let c = index % params.channels;
  let cell = index / params.channels;
  let ox = cell % params.outWidth;
  let oy = (cell / params.outWidth) % params.outHeight;
  let b = cell / (params.outWidth * params.outHeight);
  var sum = 0.0;
  for (var dy = 0u; dy < params.scale; dy++) {
    let row = oy * params.scale + dy;
    for (var dx = 0u; dx < params.scale; dx++) {
      let col = ox * params.scale + dx;
      sum += tokens[((b * params.height + row) * params.width + col) * params.channels + c];
    }
  }
  pooled[index] = sum / f32(params.scale * params.scale);
}
