// matmul: C[z] = op(A[z]) * op(B[z]) (+ bias[N] added to every row), float32, row-major.
//   op(A) is [M, K]: A is stored [M, K], or [K, M] when TRANS_A.
//   op(B) is [K, N]: B is stored [K, N], or [N, K] when TRANS_B.
//   Batch z = workgroup_id.z; strideA / strideB / strideC are the elements between batches
//   (0 for an operand shared by every batch).
// Bindings: params (uniform); a, b (read, as f32) and a4, b4 (read: the same buffers as vec4,
//   pool buffers being whole multiples of 16 bytes); bias (read; any buffer when HAS_BIAS is
//   false); c (written: every element of [batch, M, N]).
//
// Tiling (override constants, from gpu().tuning.matmul / matmulSmall):
//   WG_X x WG_Y threads per workgroup, each computing a TM x TN block of C.
//   SHARED = 0 (CPU rasterisers): register blocking, no workgroup memory, no barriers.
//     Thread (x, y) owns rows (wg.y*WG_Y + y)*TM .. +TM and columns (wg.x*WG_X + x)*TN .. +TN
//     (TM, TN multiples of 4, at most 32). K advances 4 at a time: a 4 x TN slice of op(B)
//     and, per group of 4 rows, a 4 x 4 slice of op(A) are loaded (vec4 loads when VEC_A /
//     VEC_B say the operand's contiguous dimension, and its batch stride, are multiples of 4),
//     then 4*TM*TN FMAs. On llvmpipe (Mesa 22) every storage load is a loop over the SIMD lanes
//     costing ~20 cycles per lane and component, uniform address or not, while FMAs are nearly
//     free: the block is large (FMAs per loaded value = TM*TN/(TM+TN)) and the hot loop has no
//     branch (llvmpipe runs both sides of every branch). Rows and columns past the edge read
//     clamped addresses and are not written; the K tail (K % 4) runs after the main loop with
//     scalar loads. Row and column groups of 4 are unrolled by hand and pruned with
//     `if (TM > 4q)` / `if (TN > 4j)` on the overrides, so the shader compiler sees
//     straight-line code with constant indices into the private accumulators (registers);
//     loops over TM or TN would not all be unrolled and would put them in memory.
//   SHARED = 1 (GPUs): workgroup-memory tiles of (WG_Y*TM) x TK of op(A) and TK x (WG_X*TN)
//     of op(B), loaded cooperatively with bounds checks, one barrier pair per TK step; thread
//     (x, y) owns rows y + i*WG_Y and columns x + j*WG_X (strided, so shared reads do not
//     conflict and stores coalesce). TM, TN <= 8.
// Grid: [ceil(N / (WG_X*TN)), ceil(M / (WG_Y*TM)), batch].

struct Params {
  M: u32,
  N: u32,
  K: u32,
  strideA: u32,
  strideB: u32,
  strideC: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> c: array<f32>;

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
// A's contiguous dimension (K, or M when TRANS_A) is a multiple of 4, and so is strideA.
override VEC_A: bool = false;
// B's contiguous dimension (N, or K when TRANS_B) is a multiple of 4, and so is strideB.
override VEC_B: bool = false;
override WG_X: u32 = 8;
override WG_Y: u32 = 8;
override TM: u32 = 4;
override TN: u32 = 4;
override SHARED: u32 = 0;
override TK: u32 = 16;

const MAX_TN4: u32 = 8u;          // TN / 4 at most
const ACC: u32 = 32u * MAX_TN4;   // accumulators (vec4) for TM <= 32

// ---- register-blocked path (SHARED = 0) ---------------------------------------------------------

// Per-thread state of the register path (private: no copies through function parameters).
// acc[i * MAX_TN4 + j] = C[m0 + i, n0 + 4j .. +3]; rowOff[i] / colOff[j] are the clamped
// element offsets of row m0 + i of op(A) and column n0 + j of op(B) (k not included);
// bt[kk * MAX_TN4 + j] = op(B)[k + kk, n0 + 4j .. +3] of the current K slice.
var<private> acc: array<vec4<f32>, ACC>;
var<private> rowOff: array<u32, 32>;
var<private> colOff: array<u32, 32>;
var<private> bt: array<vec4<f32>, 4u * MAX_TN4>;

// Columns n0 + 4j .. +3 of the 4 x TN slice of op(B) at rows k .. k+3.
fn loadB(j: u32, k: u32) {
  if (!TRANS_B) {
    // B is [K, N]: colOff holds base + n; row k adds k * N.
    for (var kk = 0u; kk < 4u; kk++) {
      let r = (k + kk) * params.N;
      if (VEC_B) {
        bt[kk * MAX_TN4 + j] = b4[(r + colOff[4u * j]) >> 2u];
      } else {
        bt[kk * MAX_TN4 + j] = vec4<f32>(b[r + colOff[4u * j]], b[r + colOff[4u * j + 1u]],
                                         b[r + colOff[4u * j + 2u]], b[r + colOff[4u * j + 3u]]);
      }
    }
  } else {
    // B is [N, K]: colOff holds base + n * K; 4 consecutive k of 4 columns, transposed.
    var w: array<vec4<f32>, 4>;
    for (var e = 0u; e < 4u; e++) {
      let o = colOff[4u * j + e] + k;
      if (VEC_B) { w[e] = b4[o >> 2u]; } else { w[e] = vec4<f32>(b[o], b[o + 1u], b[o + 2u], b[o + 3u]); }
    }
    bt[j] = vec4<f32>(w[0].x, w[1].x, w[2].x, w[3].x);
    bt[MAX_TN4 + j] = vec4<f32>(w[0].y, w[1].y, w[2].y, w[3].y);
    bt[2u * MAX_TN4 + j] = vec4<f32>(w[0].z, w[1].z, w[2].z, w[3].z);
    bt[3u * MAX_TN4 + j] = vec4<f32>(w[0].w, w[1].w, w[2].w, w[3].w);
  }
}

// Rows 4q .. 4q+3 of the block, K slice k .. k+3: result[r] = op(A)[m0 + 4q + r, k .. k+3].
fn loadA(q: u32, k: u32) -> array<vec4<f32>, 4> {
  var v: array<vec4<f32>, 4>;
  if (!TRANS_A) {
    // A is [M, K]: rowOff holds base + m * K.
    for (var r = 0u; r < 4u; r++) {
      let o = rowOff[4u * q + r] + k;
      if (VEC_A) { v[r] = a4[o >> 2u]; } else { v[r] = vec4<f32>(a[o], a[o + 1u], a[o + 2u], a[o + 3u]); }
    }
  } else {
    // A is [K, M]: rowOff holds base + m; vec4 runs along m (4 rows at once), transposed.
    var w: array<vec4<f32>, 4>;
    for (var kk = 0u; kk < 4u; kk++) {
      let r0 = (k + kk) * params.M;
      if (VEC_A) {
        w[kk] = a4[(r0 + rowOff[4u * q]) >> 2u];
      } else {
        w[kk] = vec4<f32>(a[r0 + rowOff[4u * q]], a[r0 + rowOff[4u * q + 1u]],
                          a[r0 + rowOff[4u * q + 2u]], a[r0 + rowOff[4u * q + 3u]]);
      }
    }
    v[0] = vec4<f32>(w[0].x, w[1].x, w[2].x, w[3].x);
    v[1] = vec4<f32>(w[0].y, w[1].y, w[2].y, w[3].y);
    v[2] = vec4<f32>(w[0].z, w[1].z, w[2].z, w[3].z);
    v[3] = vec4<f32>(w[0].w, w[1].w, w[2].w, w[3].w);
  }
  return v;
}

// The 4 x 4 block of C at rows 4q .. +3, columns n0 + 4j .. +3 += op(A) slice * op(B) slice.
fn fma4(q: u32, j: u32, av: array<vec4<f32>, 4>) {
  let b0 = bt[j];
  let b1 = bt[MAX_TN4 + j];
  let b2 = bt[2u * MAX_TN4 + j];
  let b3 = bt[3u * MAX_TN4 + j];
  let i = 4u * q * MAX_TN4 + j;
  acc[i] = fma(vec4<f32>(av[0].w), b3, fma(vec4<f32>(av[0].z), b2, fma(vec4<f32>(av[0].y), b1, fma(vec4<f32>(av[0].x), b0, acc[i]))));
  acc[i + MAX_TN4] = fma(vec4<f32>(av[1].w), b3, fma(vec4<f32>(av[1].z), b2, fma(vec4<f32>(av[1].y), b1, fma(vec4<f32>(av[1].x), b0, acc[i + MAX_TN4]))));
  acc[i + 2u * MAX_TN4] = fma(vec4<f32>(av[2].w), b3, fma(vec4<f32>(av[2].z), b2, fma(vec4<f32>(av[2].y), b1, fma(vec4<f32>(av[2].x), b0, acc[i + 2u * MAX_TN4]))));
  acc[i + 3u * MAX_TN4] = fma(vec4<f32>(av[3].w), b3, fma(vec4<f32>(av[3].z), b2, fma(vec4<f32>(av[3].y), b1, fma(vec4<f32>(av[3].x), b0, acc[i + 3u * MAX_TN4]))));
}

// acc[rows 4q .. 4q+3] += op(A) slice * op(B) slice; column groups pruned by TN.
fn step(q: u32, k: u32) {
  let av = loadA(q, k);
  fma4(q, 0u, av);
  if (TN > 4u) { fma4(q, 1u, av); }
  if (TN > 8u) { fma4(q, 2u, av); }
  if (TN > 12u) { fma4(q, 3u, av); }
  if (TN > 16u) { fma4(q, 4u, av); }
  if (TN > 20u) { fma4(q, 5u, av); }
  if (TN > 24u) { fma4(q, 6u, av); }
  if (TN > 28u) { fma4(q, 7u, av); }
}

// K tail (K % 4 != 0), one k: bt[j] = op(B)[k, n0 + 4j .. +3] (scalar loads).
fn loadBTail(j: u32, k: u32) {
  var v: vec4<f32>;
  for (var e = 0u; e < 4u; e++) {
    if (TRANS_B) { v[e] = b[colOff[4u * j + e] + k]; } else { v[e] = b[k * params.N + colOff[4u * j + e]]; }
  }
  bt[j] = v;
}

fn tailFma(q: u32, j: u32, x: vec4<f32>) {
  for (var r = 0u; r < 4u; r++) {
    let i = (4u * q + r) * MAX_TN4 + j;
    acc[i] = fma(vec4<f32>(x[r]), bt[j], acc[i]);
  }
}

// K tail, one k, rows 4q .. 4q+3.
fn tailStep(q: u32, k: u32) {
  var x: vec4<f32>;
  for (var r = 0u; r < 4u; r++) {
    if (TRANS_A) { x[r] = a[k * params.M + rowOff[4u * q + r]]; } else { x[r] = a[rowOff[4u * q + r] + k]; }
  }
  tailFma(q, 0u, x);
  if (TN > 4u) { tailFma(q, 1u, x); }
  if (TN > 8u) { tailFma(q, 2u, x); }
  if (TN > 12u) { tailFma(q, 3u, x); }
  if (TN > 16u) { tailFma(q, 4u, x); }
  if (TN > 20u) { tailFma(q, 5u, x); }
  if (TN > 24u) { tailFma(q, 6u, x); }
  if (TN > 28u) { tailFma(q, 7u, x); }
}

// C[rows 4q .. +3, columns n0 + 4j .. +3] = acc (+ bias), inside the matrix only.
fn storeBlock(q: u32, j: u32, m0: u32, n0: u32, baseC: u32) {
  for (var r = 0u; r < 4u; r++) {
    let m = m0 + 4u * q + r;
    let v = acc[(4u * q + r) * MAX_TN4 + j];
    for (var e = 0u; e < 4u; e++) {
      let n = n0 + 4u * j + e;
      if (m < params.M && n < params.N) {
        var y = v[e];
        if (HAS_BIAS) { y += bias[n]; }
        c[baseC + m * params.N + n] = y;
      }
    }
  }
}

fn storeRows(q: u32, m0: u32, n0: u32, baseC: u32) {
  storeBlock(q, 0u, m0, n0, baseC);
  if (TN > 4u) { storeBlock(q, 1u, m0, n0, baseC); }
  if (TN > 8u) { storeBlock(q, 2u, m0, n0, baseC); }
  if (TN > 12u) { storeBlock(q, 3u, m0, n0, baseC); }
  if (TN > 16u) { storeBlock(q, 4u, m0, n0, baseC); }
  if (TN > 20u) { storeBlock(q, 5u, m0, n0, baseC); }
  if (TN > 24u) { storeBlock(q, 6u, m0, n0, baseC); }
  if (TN > 28u) { storeBlock(q, 7u, m0, n0, baseC); }
}

fn registerBlocked(wg: vec3<u32>, lid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = (wg.y * WG_Y + lid.y) * TM;
  let n0 = (wg.x * WG_X + lid.x) * TN;
  let baseA = wg.z * params.strideA;
  let baseB = wg.z * params.strideB;

  // acc starts at 0 (private variables are zero-initialised).
  for (var i = 0u; i < TM; i++) {
    if (TRANS_A) {
      // vec4 loads along m start at a multiple of 4: clamp the group start, not the row.
      if (VEC_A) { rowOff[i] = baseA + min(m0 + (i & ~3u), M - 4u) + (i & 3u); }
      else { rowOff[i] = baseA + min(m0 + i, M - 1u); }
    } else {
      rowOff[i] = baseA + min(m0 + i, M - 1u) * K;
    }
  }
  for (var j = 0u; j < TN; j++) {
    if (TRANS_B) {
      colOff[j] = baseB + min(n0 + j, N - 1u) * K;
    } else {
      if (VEC_B) { colOff[j] = baseB + min(n0 + (j & ~3u), N - 4u) + (j & 3u); }
      else { colOff[j] = baseB + min(n0 + j, N - 1u); }
    }
  }

  let kFull = K & ~3u;
  for (var k = 0u; k < kFull; k += 4u) {
    loadB(0u, k);
    if (TN > 4u) { loadB(1u, k); }
    if (TN > 8u) { loadB(2u, k); }
    if (TN > 12u) { loadB(3u, k); }
    if (TN > 16u) { loadB(4u, k); }
    if (TN > 20u) { loadB(5u, k); }
    if (TN > 24u) { loadB(6u, k); }
    if (TN > 28u) { loadB(7u, k); }
    step(0u, k);
    if (TM > 4u) { step(1u, k); }
    if (TM > 8u) { step(2u, k); }
    if (TM > 12u) { step(3u, k); }
    if (TM > 16u) { step(4u, k); }
    if (TM > 20u) { step(5u, k); }
    if (TM > 24u) { step(6u, k); }
    if (TM > 28u) { step(7u, k); }
  }
  for (var k = kFull; k < K; k++) {
    loadBTail(0u, k);
    if (TN > 4u) { loadBTail(1u, k); }
    if (TN > 8u) { loadBTail(2u, k); }
    if (TN > 12u) { loadBTail(3u, k); }
    if (TN > 16u) { loadBTail(4u, k); }
    if (TN > 20u) { loadBTail(5u, k); }
    if (TN > 24u) { loadBTail(6u, k); }
    if (TN > 28u) { loadBTail(7u, k); }
    tailStep(0u, k);
    if (TM > 4u) { tailStep(1u, k); }
    if (TM > 8u) { tailStep(2u, k); }
    if (TM > 12u) { tailStep(3u, k); }
    if (TM > 16u) { tailStep(4u, k); }
    if (TM > 20u) { tailStep(5u, k); }
    if (TM > 24u) { tailStep(6u, k); }
    if (TM > 28u) { tailStep(7u, k); }
  }

  let baseC = wg.z * params.strideC;
  storeRows(0u, m0, n0, baseC);
  if (TM > 4u) { storeRows(1u, m0, n0, baseC); }
  if (TM > 8u) { storeRows(2u, m0, n0, baseC); }
  if (TM > 12u) { storeRows(3u, m0, n0, baseC); }
  if (TM > 16u) { storeRows(4u, m0, n0, baseC); }
  if (TM > 20u) { storeRows(5u, m0, n0, baseC); }
  if (TM > 24u) { storeRows(6u, m0, n0, baseC); }
  if (TM > 28u) { storeRows(7u, m0, n0, baseC); }
}

// ---- workgroup-memory path (SHARED = 1) ---------------------------------------------------------

// One element when SHARED = 0.
var<workgroup> tileA: array<f32, SHARED * TK * WG_Y * TM + 1u>;
var<workgroup> tileB: array<f32, SHARED * TK * WG_X * TN + 1u>;

fn tiled(wg: vec3<u32>, lid: vec3<u32>, li: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let BM = WG_Y * TM;
  let BN = WG_X * TN;
  let threads = WG_X * WG_Y;
  let rowBase = wg.y * BM;
  let colBase = wg.x * BN;
  let baseA = wg.z * params.strideA;
  let baseB = wg.z * params.strideB;

  var acc: array<f32, 64>;
  for (var i = 0u; i < 64u; i++) { acc[i] = 0.0; }

  for (var k0 = 0u; k0 < K; k0 += TK) {
    // tileA[kk * BM + r] = op(A)[rowBase + r, k0 + kk]; consecutive threads take consecutive
    // elements of whichever dimension is contiguous in memory.
    for (var e = li; e < TK * BM; e += threads) {
      var r: u32;
      var kk: u32;
      if (TRANS_A) { kk = e / BM; r = e % BM; } else { r = e / TK; kk = e % TK; }
      let m = rowBase + r;
      let k = k0 + kk;
      var v = 0.0;
      if (m < M && k < K) {
        if (TRANS_A) { v = a[baseA + k * M + m]; } else { v = a[baseA + m * K + k]; }
      }
      tileA[kk * BM + r] = v;
    }
    for (var e = li; e < TK * BN; e += threads) {
      var col: u32;
      var kk: u32;
      if (TRANS_B) { col = e / TK; kk = e % TK; } else { kk = e / BN; col = e % BN; }
      let n = colBase + col;
      let k = k0 + kk;
      var v = 0.0;
      if (n < N && k < K) {
        if (TRANS_B) { v = b[baseB + n * K + k]; } else { v = b[baseB + k * N + n]; }
      }
      tileB[kk * BN + col] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var bv: array<f32, 8>;
      for (var j = 0u; j < TN; j++) { bv[j] = tileB[kk * BN + lid.x + j * WG_X]; }
      for (var i = 0u; i < TM; i++) {
        let av = tileA[kk * BM + lid.y + i * WG_Y];
        for (var j = 0u; j < TN; j++) { acc[i * 8u + j] = fma(av, bv[j], acc[i * 8u + j]); }
      }
    }
    workgroupBarrier();
  }

  let baseC = wg.z * params.strideC;
  for (var i = 0u; i < TM; i++) {
    let m = rowBase + lid.y + i * WG_Y;
    for (var j = 0u; j < TN; j++) {
      let n = colBase + lid.x + j * WG_X;
      if (m < M && n < N) {
        var x = acc[i * 8u + j];
        if (HAS_BIAS) { x += bias[n]; }
        c[baseC + m * N + n] = x;
      }
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  if (SHARED != 0u) {
    tiled(wg, lid, li);
  } else {
    registerBlocked(wg, lid);
  }
}
