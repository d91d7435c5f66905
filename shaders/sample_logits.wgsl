// Shared by the sampling kernels that read logits (concatenated after sample_common.wgsl): the
// per-token transform — guidance, then temperature — as the CPU reference does it, in f32.

@group(0) @binding(1) var<storage, read> logits: array<f32>;   // [batch, vocab]
@group(0) @binding(2) var<storage, read> rowInfo: array<u32>;  // [rows, 4]: cond row, uncond row, bits of u, 0

fn tokenKey(row: u32, i: u32) -> u32 {
  let cond = rowInfo[row * 4u];
  var x = logits[cond * params.vocab + i];
  if (params.guided != 0u) {
    let u = logits[rowInfo[row * 4u + 1u] * params.vocab + i];
    let d = x - u;
    let s = params.guidance * d;
    x = u + s;
  }
  if (params.greedy == 0u) {
    x = x * params.invTemp;
  }
  return keyOf(x);
}
