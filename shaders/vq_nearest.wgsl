// Codebook nearest neighbour by cosine similarity (TA-Tok quantiser, TAR_SPEC §1.6), in three passes:
//   prepare: queries [N, D] (row-major f32) → transposed, zero-padded queriesT [D, queryPad] plus
//            1/max(|q|, 1e-12) per query, or a non-finite flag;
//   partial: one codebook chunk (rows stored transposed: [D, stride]) against every query; each workgroup
//            writes, per query, the best (dot, global row) of its WORKGROUP_SIZE·ROWS rows;
//   reduce:  per query, the best of all workgroup partials → (index, cosine score).
// Ties go to the lowest row index everywhere (as torch.argmax). The codebook rows are unit length (the
// caller's contract), so cosine = dot / |q|. Not a top-k: only the single best row is kept.

struct Params {
  dim: u32,          // D
  queries: u32,      // N
  queryPad: u32,     // N rounded up to a multiple of 4·QUERY_VECS (columns of queriesT)
  chunkRows: u32,    // valid rows in this chunk
  stride: u32,       // stored rows of this chunk (chunkRows padded to a multiple of WORKGROUP_SIZE·ROWS)
  baseRow: u32,      // global index of the chunk's first row
  blockBase: u32,    // global index of the chunk's first workgroup block
  blocksX: u32,      // workgroup blocks in this chunk (the x·y dispatch is folded)
  totalBlocks: u32,  // workgroup blocks over the whole codebook (columns of the partial arrays)
}

alias StoreT = f32;

override WORKGROUP_SIZE: u32 = 64u;
// Codebook rows per invocation (≤ MAX_ROWS) and vec4 groups of queries per invocation (≤ MAX_QUERY_VECS):
// each invocation keeps ROWS × 4·QUERY_VECS dot products in registers.
override ROWS: u32 = 4u;
override QUERY_VECS: u32 = 1u;
const MAX_ROWS = 8u;
const MAX_QUERY_VECS = 2u;
const LOWEST = -3.4028234e38;  // -FLT_MAX: every finite dot ties or beats it

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> codebook: array<StoreT>;        // chunk, [D, stride]
@group(0) @binding(2) var<storage, read> queriesT: array<vec4<f32>>;     // [D, queryPad / 4]
@group(0) @binding(3) var<storage, read_write> partialDot: array<f32>;   // [queryPad, totalBlocks]
@group(0) @binding(4) var<storage, read_write> partialRow: array<u32>;   // [queryPad, totalBlocks]

var<workgroup> bestDot: array<f32, WORKGROUP_SIZE>;
var<workgroup> bestRow: array<u32, WORKGROUP_SIZE>;

// a beats b: larger dot, or the same dot at a lower row.
fn better(dotA: f32, rowA: u32, dotB: f32, rowB: u32) -> bool {
  return dotA > dotB || (dotA == dotB && rowA < rowB);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let block = wid.x + wid.y * nwg.x;
  let inRange = block < params.blocksX;
  // Rows of this invocation: firstRow + r·WORKGROUP_SIZE (adjacent invocations read adjacent words).
  let firstRow = min(block, params.blocksX - 1u) * WORKGROUP_SIZE * ROWS + lid;
  let groupVecs = params.queryPad / 4u;
  let firstVec = wid.z * QUERY_VECS;

  var acc: array<vec4<f32>, MAX_ROWS * MAX_QUERY_VECS>;
  for (var i = 0u; i < MAX_ROWS * MAX_QUERY_VECS; i++) {
    acc[i] = vec4<f32>(0.0);
  }
  for (var d = 0u; d < params.dim; d++) {
    let cBase = d * params.stride + firstRow;
    let qBase = d * groupVecs + firstVec;
    for (var r = 0u; r < ROWS; r++) {
      let c = vec4<f32>(f32(codebook[cBase + r * WORKGROUP_SIZE]));
      for (var v = 0u; v < QUERY_VECS; v++) {
        acc[r * MAX_QUERY_VECS + v] = fma(c, queriesT[qBase + v], acc[r * MAX_QUERY_VECS + v]);
      }
    }
  }

  // For each of this invocation's queries: best over its rows, then over the workgroup.
  for (var v = 0u; v < QUERY_VECS; v++) {
    for (var k = 0u; k < 4u; k++) {
      var bDot = LOWEST;
      var bRow = 0xffffffffu;
      for (var r = 0u; r < ROWS; r++) {
        let local = firstRow + r * WORKGROUP_SIZE;
        let row = params.baseRow + local;
        let value = acc[r * MAX_QUERY_VECS + v][k];
        if (local < params.chunkRows && better(value, row, bDot, bRow)) {
          bDot = value;
          bRow = row;
        }
      }
      bestDot[lid] = bDot;
      bestRow[lid] = bRow;
      workgroupBarrier();
      for (var step = WORKGROUP_SIZE / 2u; step > 0u; step >>= 1u) {
        if (lid < step && better(bestDot[lid + step], bestRow[lid + step], bestDot[lid], bestRow[lid])) {
          bestDot[lid] = bestDot[lid + step];
          bestRow[lid] = bestRow[lid + step];
        }
        workgroupBarrier();
      }
      let q = (firstVec + v) * 4u + k;
      if (lid == 0u && inRange && q < params.queryPad) {
        let at = q * params.totalBlocks + params.blockBase + block;
        partialDot[at] = bestDot[0];
        partialRow[at] = bestRow[0];
      }
      workgroupBarrier();
    }
  }
}

