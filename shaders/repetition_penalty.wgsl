// Repetition penalty (Hugging Face RepetitionPenaltyLogitsProcessor) on last-position logits [rows, vocab]:
// for every token id already in the sequence, a logit l becomes l · penalty when l < 0, else l / penalty.
// The id list holds each id once. One invocation per (row, listed id); logits are changed in place.

struct Params {
  rows: u32,
  vocab: u32,
  count: u32,
  penalty: f32,
}

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;  // [rows, vocab]
@group(0) @binding(2) var<storage, read> ids: array<u32>;           // [count], distinct

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * nwg.x) * WORKGROUP_SIZE + lid;
  if (index >= params.rows * params.count) {
    return;
  }
  let id = ids[index % params.count];
  if (id >= params.vocab) {
    return;
  }
  let at = (index / params.count) * params.vocab + id;
  let value = logits[at];
  logits[at] = select(value / params.penalty, value * params.penalty, value < 0.0);
}
