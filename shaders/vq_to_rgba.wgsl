// The VQ decoder's image [3, height·width] (planar f32, values ~[-1,1]) to RGBA8 pixels packed one per u32
// (little-endian: R in the low byte, alpha 255), Tar's post-processing (TAR_SPEC §4): x·0.5 + 0.5, clamp to
// [0, 1], ·255, truncate. x·0.5 is exact, so a fused multiply-add rounds like torch's two steps.
// One invocation per pixel.

struct Params {
  pixels: u32,  // height · width
}

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;       // [3, pixels]
@group(0) @binding(2) var<storage, read_write> rgba: array<u32>;  // [pixels]

fn channel(x: f32) -> u32 {
  return u32(clamp(x * 0.5 + 0.5, 0.0, 1.0) * 255.0);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WORKGROUP_SIZE + lid;
  if (i >= params.pixels) {
    return;
  }
  let r = channel(image[i]);
  let g = channel(image[params.pixels + i]);
  let b = channel(image[2u * params.pixels + i]);
  rgba[i] = r | (g << 8u) | (b << 16u) | (255u << 24u);
}
