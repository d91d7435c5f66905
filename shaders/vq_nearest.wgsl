// Codebook nearest neighbour by cosine similarity (TA-Tok quantiser, TAR_SPEC §1.6), in three passes:
//   prepare: queries [N, D] (row-major f32) → transposed, zero-padded queriesT [D, queryPad] plus
//            1/max(|q|, 1e-12) per query, or a non-finite flag;
//   partial: one codebook chunk against every query. The chunk is stored as blocks of B = WORKGROUP_SIZE·ROWS
//            rows, each block transposed and contiguous: [blocks, D, B]; a workgroup takes one block and
//            writes, per query, the best (dot, global row) of its rows;
//   reduce:  per query, the best of all workgroup partials → (index, cosine score).
// Ties go to the lowest row index everywhere (as torch.argmax). The codebook rows are unit length (the
// caller's contract), so cosine = dot / |q|. Not a top-k: only the single best row is kept.

struct Params {
  dim: u32,          // D
  queryPad: u32,     // N rounded up to a multiple of 4·QUERY_VECS (columns of queriesT)
  chunkRows: u32,    // valid rows in this chunk
  baseRow: u32,      // global index of the chunk's first row
  blockBase: u32,    // global index of the chunk's first workgroup block
  blocksX: u32,      // workgroup blocks in this chunk (the x·y dispatch is folded)
  totalBlocks: u32,  // workgroup blocks over the whole codebook (columns of the partial arrays)
}

alias StoreT = f32;

override WORKGROUP_SIZE: u32 = 64u;
// Codebook rows per invocation (1–8) and vec4 groups of queries per invocation (1–4): each invocation
// keeps ROWS × 4·QUERY_VECS dot products in named variables. The hot loop is written out for the largest
// tile with `if (ROWS > r)` guards, which fold away once the override constants are known (an indexed
// array of accumulators is kept in memory by SwiftShader: ~5× slower).
override ROWS: u32 = 8u;
override QUERY_VECS: u32 = 4u;
const MAX_QUERY_VECS = 4u;
const LOWEST = -3.4028234e38;  // -FLT_MAX: every finite dot ties or beats it

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> codebook: array<StoreT>;        // chunk, [blocksX, D, B]
@group(0) @binding(2) var<storage, read> queriesT: array<vec4<f32>>;     // [D, queryPad / 4]
@group(0) @binding(3) var<storage, read_write> partialDot: array<f32>;   // [queryPad, totalBlocks]
@group(0) @binding(4) var<storage, read_write> partialRow: array<u32>;   // [queryPad, totalBlocks]

var<workgroup> bestDot: array<vec4<f32>, WORKGROUP_SIZE * MAX_QUERY_VECS>;  // [QUERY_VECS, WORKGROUP_SIZE]
var<workgroup> bestRow: array<vec4<u32>, WORKGROUP_SIZE * MAX_QUERY_VECS>;

// Per lane: does (dotA, rowA) beat (dotB, rowB)? Larger dot, or the same dot at a lower row.
fn better(dotA: vec4<f32>, rowA: vec4<u32>, dotB: vec4<f32>, rowB: vec4<u32>) -> vec4<bool> {
  return (dotA > dotB) | ((dotA == dotB) & (rowA < rowB));
}

// The best (dot, row) of one invocation so far for one vec4 of queries. Rows arrive in increasing order,
// so a strict > keeps the lowest row of a tie.
struct Best {
  dot: vec4<f32>,
  row: vec4<u32>,
}

fn consider(best: Best, row: u32, acc: vec4<f32>) -> Best {
  let take = acc > best.dot;
  return Best(select(best.dot, acc, take), select(best.row, vec4<u32>(row), take));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let block = wid.x + wid.y * nwg.x;
  // Rows of this invocation: firstRow + r·WORKGROUP_SIZE (adjacent invocations read adjacent words).
  let blockRows = WORKGROUP_SIZE * ROWS;
  let firstRow = min(block, params.blocksX - 1u) * blockRows + lid;
  let blockBase = min(block, params.blocksX - 1u) * blockRows * params.dim + lid;
  let groupVecs = params.queryPad / 4u;
  let firstVec = wid.z * QUERY_VECS;

  var a0_0 = vec4<f32>(0.0); var a0_1 = vec4<f32>(0.0); var a0_2 = vec4<f32>(0.0); var a0_3 = vec4<f32>(0.0);
  var a1_0 = vec4<f32>(0.0); var a1_1 = vec4<f32>(0.0); var a1_2 = vec4<f32>(0.0); var a1_3 = vec4<f32>(0.0);
  var a2_0 = vec4<f32>(0.0); var a2_1 = vec4<f32>(0.0); var a2_2 = vec4<f32>(0.0); var a2_3 = vec4<f32>(0.0);
  var a3_0 = vec4<f32>(0.0); var a3_1 = vec4<f32>(0.0); var a3_2 = vec4<f32>(0.0); var a3_3 = vec4<f32>(0.0);
  var a4_0 = vec4<f32>(0.0); var a4_1 = vec4<f32>(0.0); var a4_2 = vec4<f32>(0.0); var a4_3 = vec4<f32>(0.0);
  var a5_0 = vec4<f32>(0.0); var a5_1 = vec4<f32>(0.0); var a5_2 = vec4<f32>(0.0); var a5_3 = vec4<f32>(0.0);
  var a6_0 = vec4<f32>(0.0); var a6_1 = vec4<f32>(0.0); var a6_2 = vec4<f32>(0.0); var a6_3 = vec4<f32>(0.0);
  var a7_0 = vec4<f32>(0.0); var a7_1 = vec4<f32>(0.0); var a7_2 = vec4<f32>(0.0); var a7_3 = vec4<f32>(0.0);
  for (var d = 0u; d < params.dim; d++) {
    let cBase = blockBase + d * blockRows;
    let qBase = d * groupVecs + firstVec;
    let q0 = queriesT[qBase];
    var q1 = vec4<f32>(0.0);
    if (QUERY_VECS > 1u) {
      q1 = queriesT[qBase + 1u];
    }
    var q2 = vec4<f32>(0.0);
    if (QUERY_VECS > 2u) {
      q2 = queriesT[qBase + 2u];
    }
    var q3 = vec4<f32>(0.0);
    if (QUERY_VECS > 3u) {
      q3 = queriesT[qBase + 3u];
    }
    let c0 = vec4<f32>(f32(codebook[cBase]));
    a0_0 = fma(c0, q0, a0_0);
    if (QUERY_VECS > 1u) { a0_1 = fma(c0, q1, a0_1); }
    if (QUERY_VECS > 2u) { a0_2 = fma(c0, q2, a0_2); }
    if (QUERY_VECS > 3u) { a0_3 = fma(c0, q3, a0_3); }
    if (ROWS > 1u) {
      let c1 = vec4<f32>(f32(codebook[cBase + 1u * WORKGROUP_SIZE]));
      a1_0 = fma(c1, q0, a1_0);
      if (QUERY_VECS > 1u) { a1_1 = fma(c1, q1, a1_1); }
      if (QUERY_VECS > 2u) { a1_2 = fma(c1, q2, a1_2); }
      if (QUERY_VECS > 3u) { a1_3 = fma(c1, q3, a1_3); }
    }
    if (ROWS > 2u) {
      let c2 = vec4<f32>(f32(codebook[cBase + 2u * WORKGROUP_SIZE]));
      a2_0 = fma(c2, q0, a2_0);
      if (QUERY_VECS > 1u) { a2_1 = fma(c2, q1, a2_1); }
      if (QUERY_VECS > 2u) { a2_2 = fma(c2, q2, a2_2); }
      if (QUERY_VECS > 3u) { a2_3 = fma(c2, q3, a2_3); }
    }
    if (ROWS > 3u) {
      let c3 = vec4<f32>(f32(codebook[cBase + 3u * WORKGROUP_SIZE]));
      a3_0 = fma(c3, q0, a3_0);
      if (QUERY_VECS > 1u) { a3_1 = fma(c3, q1, a3_1); }
      if (QUERY_VECS > 2u) { a3_2 = fma(c3, q2, a3_2); }
      if (QUERY_VECS > 3u) { a3_3 = fma(c3, q3, a3_3); }
    }
    if (ROWS > 4u) {
      let c4 = vec4<f32>(f32(codebook[cBase + 4u * WORKGROUP_SIZE]));
      a4_0 = fma(c4, q0, a4_0);
      if (QUERY_VECS > 1u) { a4_1 = fma(c4, q1, a4_1); }
      if (QUERY_VECS > 2u) { a4_2 = fma(c4, q2, a4_2); }
      if (QUERY_VECS > 3u) { a4_3 = fma(c4, q3, a4_3); }
    }
    if (ROWS > 5u) {
      let c5 = vec4<f32>(f32(codebook[cBase + 5u * WORKGROUP_SIZE]));
      a5_0 = fma(c5, q0, a5_0);
      if (QUERY_VECS > 1u) { a5_1 = fma(c5, q1, a5_1); }
      if (QUERY_VECS > 2u) { a5_2 = fma(c5, q2, a5_2); }
      if (QUERY_VECS > 3u) { a5_3 = fma(c5, q3, a5_3); }
    }
    if (ROWS > 6u) {
      let c6 = vec4<f32>(f32(codebook[cBase + 6u * WORKGROUP_SIZE]));
      a6_0 = fma(c6, q0, a6_0);
      if (QUERY_VECS > 1u) { a6_1 = fma(c6, q1, a6_1); }
      if (QUERY_VECS > 2u) { a6_2 = fma(c6, q2, a6_2); }
      if (QUERY_VECS > 3u) { a6_3 = fma(c6, q3, a6_3); }
    }
    if (ROWS > 7u) {
      let c7 = vec4<f32>(f32(codebook[cBase + 7u * WORKGROUP_SIZE]));
      a7_0 = fma(c7, q0, a7_0);
      if (QUERY_VECS > 1u) { a7_1 = fma(c7, q1, a7_1); }
      if (QUERY_VECS > 2u) { a7_2 = fma(c7, q2, a7_2); }
      if (QUERY_VECS > 3u) { a7_3 = fma(c7, q3, a7_3); }
    }
  }

  var best0 = Best(vec4<f32>(LOWEST), vec4<u32>(0xffffffffu));
  var best1 = Best(vec4<f32>(LOWEST), vec4<u32>(0xffffffffu));
  var best2 = Best(vec4<f32>(LOWEST), vec4<u32>(0xffffffffu));
  var best3 = Best(vec4<f32>(LOWEST), vec4<u32>(0xffffffffu));
  {
    let local = firstRow;
    if (local < params.chunkRows) {
      best0 = consider(best0, params.baseRow + local, a0_0);
      best1 = consider(best1, params.baseRow + local, a0_1);
      best2 = consider(best2, params.baseRow + local, a0_2);
      best3 = consider(best3, params.baseRow + local, a0_3);
    }
  }
  {
    let local = firstRow + 1u * WORKGROUP_SIZE;
    if (ROWS > 1u && local < params.chunkRows) {
      best0 = consider(best0, params.baseRow + local, a1_0);
      best1 = consider(best1, params.baseRow + local, a1_1);
      best2 = consider(best2, params.baseRow + local, a1_2);
      best3 = consider(best3, params.baseRow + local, a1_3);
    }
  }
  {
    let local = firstRow + 2u * WORKGROUP_SIZE;
    if (ROWS > 2u && local < params.chunkRows) {
      best0 = consider(best0, params.baseRow + local, a2_0);
      best1 = consider(best1, params.baseRow + local, a2_1);
      best2 = consider(best2, params.baseRow + local, a2_2);
      best3 = consider(best3, params.baseRow + local, a2_3);
    }
  }
  {
    let local = firstRow + 3u * WORKGROUP_SIZE;
    if (ROWS > 3u && local < params.chunkRows) {
      best0 = consider(best0, params.baseRow + local, a3_0);
      best1 = consider(best1, params.baseRow + local, a3_1);
      best2 = consider(best2, params.baseRow + local, a3_2);
      best3 = consider(best3, params.baseRow + local, a3_3);
    }
  }
  {
    let local = firstRow + 4u * WORKGROUP_SIZE;
    if (ROWS > 4u && local < params.chunkRows) {
      best0 = consider(best0, params.baseRow + local, a4_0);
      best1 = consider(best1, params.baseRow + local, a4_1);
      best2 = consider(best2, params.baseRow + local, a4_2);
      best3 = consider(best3, params.baseRow + local, a4_3);
    }
  }
  {
    let local = firstRow + 5u * WORKGROUP_SIZE;
    if (ROWS > 5u && local < params.chunkRows) {
      best0 = consider(best0, params.baseRow + local, a5_0);
      best1 = consider(best1, params.baseRow + local, a5_1);
      best2 = consider(best2, params.baseRow + local, a5_2);
      best3 = consider(best3, params.baseRow + local, a5_3);
    }
  }
  {
    let local = firstRow + 6u * WORKGROUP_SIZE;
    if (ROWS > 6u && local < params.chunkRows) {
      best0 = consider(best0, params.baseRow + local, a6_0);
      best1 = consider(best1, params.baseRow + local, a6_1);
      best2 = consider(best2, params.baseRow + local, a6_2);
      best3 = consider(best3, params.baseRow + local, a6_3);
    }
  }
  {
    let local = firstRow + 7u * WORKGROUP_SIZE;
    if (ROWS > 7u && local < params.chunkRows) {
      best0 = consider(best0, params.baseRow + local, a7_0);
      best1 = consider(best1, params.baseRow + local, a7_1);
      best2 = consider(best2, params.baseRow + local, a7_2);
      best3 = consider(best3, params.baseRow + local, a7_3);
    }
  }

  // Best over the workgroup, all of this invocation's queries at once.
  bestDot[0u * WORKGROUP_SIZE + lid] = best0.dot;
  bestRow[0u * WORKGROUP_SIZE + lid] = best0.row;
  bestDot[1u * WORKGROUP_SIZE + lid] = best1.dot;
  bestRow[1u * WORKGROUP_SIZE + lid] = best1.row;
  bestDot[2u * WORKGROUP_SIZE + lid] = best2.dot;
  bestRow[2u * WORKGROUP_SIZE + lid] = best2.row;
  bestDot[3u * WORKGROUP_SIZE + lid] = best3.dot;
  bestRow[3u * WORKGROUP_SIZE + lid] = best3.row;
  workgroupBarrier();
  for (var step = WORKGROUP_SIZE / 2u; step > 0u; step >>= 1u) {
    if (lid < step) {
      for (var v = 0u; v < QUERY_VECS; v++) {
        let mine = v * WORKGROUP_SIZE + lid;
        let other = mine + step;
        let take = better(bestDot[other], bestRow[other], bestDot[mine], bestRow[mine]);
        bestDot[mine] = select(bestDot[mine], bestDot[other], take);
        bestRow[mine] = select(bestRow[mine], bestRow[other], take);
      }
    }
    workgroupBarrier();
  }
  if (block < params.blocksX) {
    for (var j = lid; j < 4u * QUERY_VECS; j += WORKGROUP_SIZE) {
      let v = j / 4u;
      let at = ((firstVec + v) * 4u + j % 4u) * params.totalBlocks + params.blockBase + block;
      partialDot[at] = bestDot[v * WORKGROUP_SIZE][j % 4u];
      partialRow[at] = bestRow[v * WORKGROUP_SIZE][j % 4u];
    }
  }
}
