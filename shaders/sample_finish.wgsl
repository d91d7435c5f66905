// Sampling, the draw (after sample_common.wgsl and sample_logits.wgsl): one workgroup per output row.
// Candidate path: the ≤ CAP candidates (the bucket-list entries whose key ≥ the row's threshold: every
// token at or above the k-th largest, ties included) are sorted in workgroup memory into draw order (key
// descending, id ascending; bitonic, or heap sort by one invocation), then one thread applies top-k,
// top-p and the draw in f32 with compensated sums. General path (greedy, top-k disabled, or too many candidates): the same steps over
// the whole token range by binary search on the 64-bit order (key, hi − 1 − id), one reduction per bit.
// Writes the chosen id, or NO_TOKEN when no token in the range has a finite value.

override WORKGROUP_SIZE: u32 = 256u;  // a power of two
override CAP: u32 = 2048u;            // candidates that fit in workgroup memory
override BUCKET: u32 = 16384u;        // bucket-list entries per row
// One invocation heap-sorts the candidates instead of the bitonic network: faster where barriers are
// expensive and invocations are cheap threads of a CPU (SwiftShader), slower on a GPU.
override SEQUENTIAL_SORT: bool = false;

@group(0) @binding(3) var<storage, read> state: array<u32>;        // [rows, STATE]
@group(0) @binding(4) var<storage, read> bucket: array<u32>;       // [rows, BUCKET, 2]: key, id
@group(0) @binding(5) var<storage, read_write> ids: array<u32>;    // [rows]

var<workgroup> sortKey: array<u32, CAP>;  // later: bits of the unnormalised probabilities
var<workgroup> sortId: array<u32, CAP>;
var<workgroup> redMass: array<f32, WORKGROUP_SIZE>;
var<workgroup> redA: array<u32, WORKGROUP_SIZE>;
var<workgroup> redB: array<u32, WORKGROUP_SIZE>;
var<workgroup> modeVar: u32;
var<workgroup> sizeVar: u32;

struct Stats {
  mass: f32,
  count: u32,
}

const ORDER_MAX = vec2<u32>(0xffffffffu, 0xffffffffu);

fn less(a: vec2<u32>, b: vec2<u32>) -> bool {
  return a.x < b.x || (a.x == b.x && a.y < b.y);
}

fn maxOrder(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  return select(a, b, less(a, b));
}

// a before b in draw order (key descending, id ascending).
fn before(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
  return ka > kb || (ka == kb && ia < ib);
}

// Sums (mass, count) over the workgroup; the result is workgroup-uniform.
fn reduceStats(lid: u32, mass: f32, count: u32) -> Stats {
  workgroupBarrier();
  redMass[lid] = mass;
  redA[lid] = count;
  workgroupBarrier();
  for (var s = WORKGROUP_SIZE / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      redMass[lid] += redMass[lid + s];
      redA[lid] += redA[lid + s];
    }
    workgroupBarrier();
  }
  return Stats(workgroupUniformLoad(&redMass[0]), workgroupUniformLoad(&redA[0]));
}

// Mass exp(x − xmax) (when withMass) and count of the row's finite tokens whose order lies in [low, high].
fn rangeStats(row: u32, lid: u32, low: vec2<u32>, high: vec2<u32>, xmax: f32, withMass: bool) -> Stats {
  let offsets = rowOffsets(row);
  var mass = 0.0;
  var count = 0u;
  for (var i = params.lo + lid; i < params.hi; i += WORKGROUP_SIZE) {
    let c = vec2<u32>(tokenKey(offsets, i), params.hi - 1u - i);
    if (c.x != 0u && !less(c, low) && !less(high, c)) {
      count += 1u;
      if (withMass) {
        mass += exp(valueOf(c.x) - xmax);
      }
    }
  }
  return reduceStats(lid, mass, count);
}

// The largest order (key, hi − 1 − id) among the row's finite tokens; (0, 0) when there is none.
fn topOrder(row: u32, lid: u32) -> vec2<u32> {
  let offsets = rowOffsets(row);
  var best = vec2<u32>(0u, 0u);
  for (var i = params.lo + lid; i < params.hi; i += WORKGROUP_SIZE) {
    let c = vec2<u32>(tokenKey(offsets, i), params.hi - 1u - i);
    if (c.x != 0u) {
      best = maxOrder(best, c);
    }
  }
  workgroupBarrier();
  redA[lid] = best.x;
  redB[lid] = best.y;
  workgroupBarrier();
  for (var s = WORKGROUP_SIZE / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let m = maxOrder(vec2<u32>(redA[lid], redB[lid]), vec2<u32>(redA[lid + s], redB[lid + s]));
      redA[lid] = m.x;
      redB[lid] = m.y;
    }
    workgroupBarrier();
  }
  return vec2<u32>(workgroupUniformLoad(&redA[0]), workgroupUniformLoad(&redB[0]));
}

fn uniformOf(row: u32) -> f32 {
  return bitcast<f32>(rowInfo[row * 4u + 2u]);
}

fn generalPath(row: u32, lid: u32) {
  let top = topOrder(row, lid);
  var result = NO_TOKEN;
  if (top.x != 0u) {
    result = params.hi - 1u - top.y;
  }
  if (top.x != 0u && params.greedy == 0u) {
    let xmax = valueOf(top.x);
    // Top-k: the largest key t with at least k tokens ≥ t.
    var tk = 1u;
    if (params.topK > 0u) {
      var cur = 0u;
      for (var b = 31i; b >= 0i; b--) {
        let candidate = cur | (1u << u32(b));
        if (rangeStats(row, lid, vec2<u32>(candidate, 0u), ORDER_MAX, xmax, false).count >= params.topK) {
          cur = candidate;
        }
      }
      tk = max(cur, 1u);
    }
    let keptMin = vec2<u32>(tk, 0u);
    let z1 = rangeStats(row, lid, keptMin, ORDER_MAX, xmax, true).mass;
    // Top-p: drop the longest tail (in draw order) whose mass ≤ (1 − p) · z1.
    var drawMin = keptMin;
    if (params.topP < 1.0) {
      let limit = (1.0 - params.topP) * z1;
      var cur = vec2<u32>(0u, 0u);
      for (var b = 31i; b >= -i32(params.idBits); b--) {
        var candidate = cur;
        if (b >= 0i) {
          candidate.x |= 1u << u32(b);
        } else {
          candidate.y |= 1u << u32(i32(params.idBits) + b);
        }
        if (rangeStats(row, lid, keptMin, candidate, xmax, true).mass <= limit) {
          cur = candidate;
        }
      }
      drawMin = maxOrder(vec2<u32>(cur.x, cur.y + 1u), keptMin);
    }
    let z2 = rangeStats(row, lid, drawMin, ORDER_MAX, xmax, true).mass;
    let goal = uniformOf(row) * z2;
    let strict = z2 > goal;
    // Draw: the largest order whose mass from it upwards exceeds the goal (≥ z2 when rounding left
    // none: the last kept token).
    var cur = vec2<u32>(0u, 0u);
    for (var b = 31i; b >= -i32(params.idBits); b--) {
      var candidate = cur;
      if (b >= 0i) {
        candidate.x |= 1u << u32(b);
      } else {
        candidate.y |= 1u << u32(i32(params.idBits) + b);
      }
      let m = rangeStats(row, lid, maxOrder(candidate, drawMin), ORDER_MAX, xmax, true).mass;
      if ((strict && m > goal) || (!strict && m >= z2)) {
        cur = candidate;
      }
    }
    result = params.hi - 1u - cur.y;
  }
  if (lid == 0u) {
    ids[row] = result;
  }
}

// Compensated (Kahan) accumulation: vec2(sum, compensation).
fn kahan(acc: vec2<f32>, x: f32) -> vec2<f32> {
  let y = x - acc.y;
  let t = acc.x + y;
  return vec2<f32>(t, (t - acc.x) - y);
}

// Heap sort of sortKey/sortId[0, n) into draw order (the heap's root is the entry that comes last).
fn comesAfter(i: u32, j: u32) -> bool {
  return before(sortKey[j], sortId[j], sortKey[i], sortId[i]);
}

fn swapEntries(i: u32, j: u32) {
  let k = sortKey[i];
  let d = sortId[i];
  sortKey[i] = sortKey[j];
  sortId[i] = sortId[j];
  sortKey[j] = k;
  sortId[j] = d;
}

fn siftDown(start: u32, end: u32) {
  var root = start;
  loop {
    var child = 2u * root + 1u;
    if (child >= end) {
      break;
    }
    if (child + 1u < end && comesAfter(child + 1u, child)) {
      child += 1u;
    }
    if (!comesAfter(child, root)) {
      break;
    }
    swapEntries(root, child);
    root = child;
  }
}

fn heapSort(n: u32) {
  for (var i = n / 2u; i > 0u; i--) {
    siftDown(i - 1u, n);
  }
  for (var end = n; end > 1u; end--) {
    swapEntries(0u, end - 1u);
    siftDown(0u, end - 1u);
  }
}

fn candidatePath(row: u32, lid: u32) {
  let n = workgroupUniformLoad(&sizeVar);
  var size = 1u;
  while (size < n) {
    size <<= 1u;
  }
  let s = row * STATE;
  let bucketed = min(state[s + 5u], BUCKET);
  let threshold = state[s + 2u];
  // Compaction without atomics: each invocation keeps the entries ≥ threshold of its own segment, at
  // the offset given by the counts of the segments before it.
  let segment = (bucketed + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE;
  let first = lid * segment;
  let last = min(first + segment, bucketed);
  var kept = 0u;
  for (var i = first; i < last; i++) {
    if (bucket[(row * BUCKET + i) * 2u] >= threshold) {
      kept++;
    }
  }
  redA[lid] = kept;
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0u;
    for (var t = 0u; t < WORKGROUP_SIZE; t++) {
      let c = redA[t];
      redA[t] = total;
      total += c;
    }
  }
  workgroupBarrier();
  var slot = redA[lid];
  for (var i = first; i < last; i++) {
    let key = bucket[(row * BUCKET + i) * 2u];
    if (key >= threshold) {
      sortKey[slot] = key;
      sortId[slot] = bucket[(row * BUCKET + i) * 2u + 1u];
      slot++;
    }
  }
  for (var i = n + lid; i < size; i += WORKGROUP_SIZE) {
    sortKey[i] = 0u;
    sortId[i] = NO_TOKEN;
  }
  workgroupBarrier();
  if (SEQUENTIAL_SORT) {
    if (lid == 0u) {
      heapSort(n);
    }
  } else {
    for (var block = 2u; block <= size; block <<= 1u) {
      for (var stride = block >> 1u; stride > 0u; stride >>= 1u) {
        for (var i = lid; i < size; i += WORKGROUP_SIZE) {
          let j = i ^ stride;
          if (j > i) {
            let ki = sortKey[i];
            let ii = sortId[i];
            let kj = sortKey[j];
            let ij = sortId[j];
            let inOrder = (i & block) == 0u;
            if ((inOrder && before(kj, ij, ki, ii)) || (!inOrder && before(ki, ii, kj, ij))) {
              sortKey[i] = kj;
              sortId[i] = ij;
              sortKey[j] = ki;
              sortId[j] = ii;
            }
          }
        }
        workgroupBarrier();
      }
    }
  }
  if (lid != 0u) {
    return;
  }
  if (n == 0u || sortKey[0] == 0u) {
    ids[row] = NO_TOKEN;
    return;
  }
  var m1 = n;
  if (params.topK > 0u && params.topK < n) {
    let tk = sortKey[params.topK - 1u];
    m1 = params.topK;
    while (m1 < n && sortKey[m1] == tk) {
      m1++;
    }
  }
  let xmax = valueOf(sortKey[0]);
  var z1 = vec2<f32>(0.0, 0.0);
  for (var i = 0u; i < m1; i++) {
    let p = exp(valueOf(sortKey[i]) - xmax);
    sortKey[i] = bitcast<u32>(p);
    z1 = kahan(z1, p);
  }
  // Top-p: ascending cumulative = suffix sums in draw order; keep up to the last one above the limit.
  let limit = (1.0 - params.topP) * z1.x;
  var m2 = 1u;
  var suffix = vec2<f32>(0.0, 0.0);
  for (var i = m1 - 1u; i >= 1u; i--) {
    suffix = kahan(suffix, bitcast<f32>(sortKey[i]));
    if (suffix.x > limit) {
      m2 = i + 1u;
      break;
    }
  }
  var z2 = vec2<f32>(0.0, 0.0);
  for (var i = 0u; i < m2; i++) {
    z2 = kahan(z2, bitcast<f32>(sortKey[i]));
  }
  let goal = uniformOf(row) * z2.x;
  var pick = m2 - 1u;
  var cum = vec2<f32>(0.0, 0.0);
  for (var i = 0u; i < m2; i++) {
    cum = kahan(cum, bitcast<f32>(sortKey[i]));
    if (cum.x > goal) {
      pick = i;
      break;
    }
  }
  ids[row] = sortId[pick];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn finish(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  let s = row * STATE;
  if (lid == 0u) {
    var mode = 1u;
    if (params.general == 0u && state[s + 4u] <= CAP) {
      mode = 0u;
    }
    modeVar = mode;
    sizeVar = state[s + 4u];
  }
  if (workgroupUniformLoad(&modeVar) == 0u) {
    candidatePath(row, lid);
  } else {
    generalPath(row, lid);
  }
}
