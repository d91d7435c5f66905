// A pure fused-multiply-add loop: eight independent vec4 accumulator chains per invocation, no memory
// traffic in the loop. The benchmark times it to get the adapter's compute ceiling in GFLOP/s
// (each vec4 fma = 8 FLOP). Not used by the engine.

struct Params {
  iterations: u32,
  seed: f32,
}

override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> sink: array<vec4<f32>>;  // [workgroups · WORKGROUP_SIZE]

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x = vec4<f32>(f32(gid.x) * 1e-7 + params.seed);
  let m = vec4<f32>(0.9999);
  var a0 = x; var a1 = x + 1.0; var a2 = x + 2.0; var a3 = x + 3.0;
  var a4 = x + 4.0; var a5 = x + 5.0; var a6 = x + 6.0; var a7 = x + 7.0;
  for (var i = 0u; i < params.iterations; i++) {
    a0 = fma(a0, m, x); a1 = fma(a1, m, x); a2 = fma(a2, m, x); a3 = fma(a3, m, x);
    a4 = fma(a4, m, x); a5 = fma(a5, m, x); a6 = fma(a6, m, x); a7 = fma(a7, m, x);
  }
  sink[gid.x] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}
