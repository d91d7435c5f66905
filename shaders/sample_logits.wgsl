// Shared by the sampling kernels that read logits (concatenated after sample_common.wgsl): the
// per-token transform — guidance, then temperature — as the CPU reference does it, in f32, and the
// conditional min-p filter (a token whose conditional value is below its row's threshold is never drawn).

@group(0) @binding(1) var<storage, read> logits: array<f32>;   // [batch, vocab]
// [rows, 4]: cond row, uncond row, bits of u, bits of the conditional threshold (sample_threshold.wgsl)
@group(0) @binding(2) var<storage, read> rowInfo: array<u32>;

struct RowRefs {
  cond: u32,        // offset of the conditional logits
  uncond: u32,      // offset of the unconditional logits
  threshold: f32,   // conditional min-p threshold (used only when params.condFilter = 1)
}

fn rowOffsets(row: u32) -> RowRefs {
  return RowRefs(rowInfo[row * 4u] * params.vocab, rowInfo[row * 4u + 1u] * params.vocab, bitcast<f32>(rowInfo[row * 4u + 3u]));
}

// False for a token the conditional min-p filter drops.
fn kept(rows: RowRefs, i: u32) -> bool {
  if (params.condFilter == 0u) {
    return true;
  }
  var c = logits[rows.cond + i];
  if (params.greedy == 0u) {
    c = c * params.invTemp;
  }
  return c >= rows.threshold;
}

fn tokenValue(rows: RowRefs, i: u32) -> f32 {
  var x = logits[rows.cond + i];
  if (params.guided != 0u) {
    let u = logits[rows.uncond + i];
    let d = x - u;
    let s = params.guidance * d;
    x = u + s;
  }
  if (params.greedy == 0u) {
    x = x * params.invTemp;
  }
  return x;
}

fn tokenKey(rows: RowRefs, i: u32) -> u32 {
  if (!kept(rows, i)) {
    return 0u;
  }
  return keyOf(tokenValue(rows, i));
}
