// The conditional min-p threshold of each output row (concatenated after sample_common.wgsl), before the
// other sampling passes: f32(m + condFloor), m the largest finite conditional value c · (1/T) (c when greedy)
// in [lo, hi), or the lowest finite f32 when there is none; written as bits to rowInfo word 3. One workgroup
// per output row.

override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(1) var<storage, read> logits: array<f32>;          // [batch, vocab]
@group(0) @binding(2) var<storage, read_write> rowInfo: array<u32>;   // [rows, 4]

const LOWEST_BITS: u32 = 0xff7fffffu;  // the lowest finite f32

var<workgroup> best: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn cond_threshold(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  let cond = rowInfo[row * 4u] * params.vocab;
  var m = bitcast<f32>(LOWEST_BITS);
  for (var i = params.lo + lid; i < params.hi; i += WORKGROUP_SIZE) {
    var c = logits[cond + i];
    if (params.greedy == 0u) {
      c = c * params.invTemp;
    }
    if (keyOf(c) != 0u) {
      m = max(m, c);
    }
  }
  best[lid] = m;
  workgroupBarrier();
  for (var s = WORKGROUP_SIZE / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      best[lid] = max(best[lid], best[lid + s]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    rowInfo[row * 4u + 3u] = bitcast<u32>(best[0] + params.condFloor);
  }
}
