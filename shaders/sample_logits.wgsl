// Shared by the sampling kernels that read logits (concatenated after sample_common.wgsl): the
// per-token transform — guidance, then temperature — as the CPU reference does it, in f32.

@group(0) @binding(1) var<storage, read> logits: array<f32>;   // [batch, vocab]
@group(0) @binding(2) var<storage, read> rowInfo: array<u32>;  // [rows, 4]: cond row, uncond row, bits of u, 0

// Offsets of an output row's conditional and unconditional logits.
fn rowOffsets(row: u32) -> vec2<u32> {
  return vec2<u32>(rowInfo[row * 4u], rowInfo[row * 4u + 1u]) * params.vocab;
}

fn tokenValue(rows: vec2<u32>, i: u32) -> f32 {
  var x = logits[rows.x + i];
  if (params.guided != 0u) {
    let u = logits[rows.y + i];
    let d = x - u;
    let s = params.guidance * d;
    x = u + s;
  }
  if (params.greedy == 0u) {
    x = x * params.invTemp;
  }
  return x;
}

fn tokenKey(rows: vec2<u32>, i: u32) -> u32 {
  return keyOf(tokenValue(rows, i));
}
