// matmul: C[z] = op(A[z]) * op(B[z]) (+ bias[N] added to every row), float32, row-major.
//   op(A) is [M, K]: A is stored [M, K], or [K, M] when TRANS_A.
//   op(B) is [K, N]: B is stored [K, N], or [N, K] when TRANS_B.
//   Batch z = workgroup_id.z; strideA / strideB / strideC are the elements between batches
//   (0 for an operand shared by every batch).
// Bindings: params (uniform); a, b (read, as f32) and a4, b4 (read: the same buffers as vec4,
//   pool buffers being whole multiples of 16 bytes); bias (read; any buffer when HAS_BIAS is
//   false); c (written: every element of [batch, M, N]).
//
// Tiling (override constants, from gpu().tuning.matmul):
//   WG_X x WG_Y threads per workgroup, each computing a TM x TN block of C.
//   SHARED = 0 (CPU rasterisers): register blocking, no workgroup memory, no barriers.
//     Thread (x, y) owns rows (wg.y*WG_Y + y)*TM .. +TM and columns (wg.x*WG_X + x)*TN .. +TN
//     (TM in 4, 8, .., 32; TN in 4, 8, .., 32). K advances 4 at a time: a 4 x TN slice of op(B)
//     and, per group of 4 rows, a 4 x 4 slice of op(A) are loaded (vec4 loads when VEC_A /
//     VEC_B say the operand's contiguous dimension, and its batch stride, are multiples of 4),
//     then 4*TM*TN FMAs. On llvmpipe every storage load costs ~20 cycles per lane and
//     component while FMAs are nearly free, so the block is large (FMAs per loaded value =
//     TM*TN/(TM+TN)), and the hot loop has no branch at all: llvmpipe runs both sides of every
//     branch. Rows and columns past the edge read clamped addresses and are not written; the
//     K tail (K % 4) runs after the main loop. Row groups are unrolled by hand and pruned by
//     `if (TM > 4q)` on the override, so the compiler sees straight-line code with constant
//     array indices (accumulators stay in registers).
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

// Per thread: acc[i * MAX_TN4 + j] = C[m0 + i, n0 + 4j .. +3]; rowOff[i] / colOff[j] are the
// clamped element offsets of row m0 + i of op(A) and column n0 + j of op(B) (without k).
struct Block {
  acc: array<vec4<f32>, ACC>,
  rowOff: array<u32, 32>,
  colOff: array<u32, 32>,
}

// bt[kk * MAX_TN4 + j] = op(B)[k + kk, n0 + 4j .. +3]
struct BSlice {
  v: array<vec4<f32>, 4u * MAX_TN4>,
}

fn loadB(blk: ptr<function, Block>, k: u32) -> BSlice {
  var t: BSlice;
  for (var j = 0u; j < TN / 4u; j++) {
    if (!TRANS_B) {
      // B is [K, N]: colOff holds base + n; row k adds k * N.
      for (var kk = 0u; kk < 4u; kk++) {
        let r = (k + kk) * params.N;
        if (VEC_B) {
          t.v[kk * MAX_TN4 + j] = b4[(r + (*blk).colOff[4u * j]) >> 2u];
        } else {
          t.v[kk * MAX_TN4 + j] = vec4<f32>(b[r + (*blk).colOff[4u * j]], b[r + (*blk).colOff[4u * j + 1u]],
                                            b[r + (*blk).colOff[4u * j + 2u]], b[r + (*blk).colOff[4u * j + 3u]]);
        }
      }
    } else {
      // B is [N, K]: colOff holds base + n * K; 4 consecutive k of 4 columns, transposed.
      var w: array<vec4<f32>, 4>;
      for (var r = 0u; r < 4u; r++) {
        let o = (*blk).colOff[4u * j + r] + k;
        if (VEC_B) { w[r] = b4[o >> 2u]; } else { w[r] = vec4<f32>(b[o], b[o + 1u], b[o + 2u], b[o + 3u]); }
      }
      t.v[j] = vec4<f32>(w[0].x, w[1].x, w[2].x, w[3].x);
      t.v[MAX_TN4 + j] = vec4<f32>(w[0].y, w[1].y, w[2].y, w[3].y);
      t.v[2u * MAX_TN4 + j] = vec4<f32>(w[0].z, w[1].z, w[2].z, w[3].z);
      t.v[3u * MAX_TN4 + j] = vec4<f32>(w[0].w, w[1].w, w[2].w, w[3].w);
    }
  }
  return t;
}

// Rows 4q .. 4q+3 of the block, K slice k .. k+3: a[r] = op(A)[m0 + 4q + r, k .. k+3].
fn loadA(blk: ptr<function, Block>, q: u32, k: u32) -> array<vec4<f32>, 4> {
  var a_: array<vec4<f32>, 4>;
  if (!TRANS_A) {
    // A is [M, K]: rowOff holds base + m * K.
    for (var r = 0u; r < 4u; r++) {
      let o = (*blk).rowOff[4u * q + r] + k;
      if (VEC_A) { a_[r] = a4[o >> 2u]; } else { a_[r] = vec4<f32>(a[o], a[o + 1u], a[o + 2u], a[o + 3u]); }
    }
  } else {
    // A is [K, M]: rowOff holds base + m; vec4 runs along m (4 rows at once), transposed.
    var w: array<vec4<f32>, 4>;
    for (var kk = 0u; kk < 4u; kk++) {
      let r0 = (k + kk) * params.M;
      if (VEC_A) {
        w[kk] = a4[(r0 + (*blk).rowOff[4u * q]) >> 2u];
      } else {
        w[kk] = vec4<f32>(a[r0 + (*blk).rowOff[4u * q]], a[r0 + (*blk).rowOff[4u * q + 1u]],
                          a[r0 + (*blk).rowOff[4u * q + 2u]], a[r0 + (*blk).rowOff[4u * q + 3u]]);
      }
    }
    a_[0] = vec4<f32>(w[0].x, w[1].x, w[2].x, w[3].x);
    a_[1] = vec4<f32>(w[0].y, w[1].y, w[2].y, w[3].y);
    a_[2] = vec4<f32>(w[0].z, w[1].z, w[2].z, w[3].z);
    a_[3] = vec4<f32>(w[0].w, w[1].w, w[2].w, w[3].w);
  }
  return a_;
}

// acc[rows 4q .. 4q+3] += op(A) slice * op(B) slice.
fn step(blk: ptr<function, Block>, q: u32, k: u32, t: ptr<function, BSlice>) {
  let av = loadA(blk, q, k);
  for (var r = 0u; r < 4u; r++) {
    let x = av[r];
    let i = 4u * q + r;
    for (var j = 0u; j < TN / 4u; j++) {
      var s = (*blk).acc[i * MAX_TN4 + j];
      s = fma(vec4<f32>(x.x), (*t).v[j], s);
      s = fma(vec4<f32>(x.y), (*t).v[MAX_TN4 + j], s);
      s = fma(vec4<f32>(x.z), (*t).v[2u * MAX_TN4 + j], s);
      s = fma(vec4<f32>(x.w), (*t).v[3u * MAX_TN4 + j], s);
      (*blk).acc[i * MAX_TN4 + j] = s;
    }
  }
}

// One k of the K tail (K % 4 != 0), rows 4q .. 4q+3, scalar loads.
fn tailStep(blk: ptr<function, Block>, q: u32, k: u32, bk: ptr<function, array<vec4<f32>, MAX_TN4>>) {
  for (var r = 0u; r < 4u; r++) {
    let i = 4u * q + r;
    var x: f32;
    if (TRANS_A) { x = a[k * params.M + (*blk).rowOff[i]]; } else { x = a[(*blk).rowOff[i] + k]; }
    for (var j = 0u; j < TN / 4u; j++) {
      (*blk).acc[i * MAX_TN4 + j] = fma(vec4<f32>(x), (*bk)[j], (*blk).acc[i * MAX_TN4 + j]);
    }
  }
}

fn storeRows(blk: ptr<function, Block>, q: u32, m0: u32, n0: u32, baseC: u32) {
  for (var r = 0u; r < 4u; r++) {
    let i = 4u * q + r;
    let m = m0 + i;
    if (m < params.M) {
      for (var j = 0u; j < TN / 4u; j++) {
        let v = (*blk).acc[i * MAX_TN4 + j];
        for (var e = 0u; e < 4u; e++) {
          let n = n0 + 4u * j + e;
          if (n < params.N) {
            var x = v[e];
            if (HAS_BIAS) { x += bias[n]; }
            c[baseC + m * params.N + n] = x;
          }
        }
      }
    }
  }
}

fn registerBlocked(wg: vec3<u32>, lid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = (wg.y * WG_Y + lid.y) * TM;
  let n0 = (wg.x * WG_X + lid.x) * TN;
  let baseA = wg.z * params.strideA;
  let baseB = wg.z * params.strideB;

  var blk: Block;  // zero-initialised: the accumulators start at 0
  for (var i = 0u; i < TM; i++) {
    if (TRANS_A) {
      // vec4 loads along m start at a multiple of 4: clamp the group start, not the row.
      if (VEC_A) { blk.rowOff[i] = baseA + min(m0 + (i & ~3u), M - 4u) + (i & 3u); }
      else { blk.rowOff[i] = baseA + min(m0 + i, M - 1u); }
    } else {
      blk.rowOff[i] = baseA + min(m0 + i, M - 1u) * K;
    }
  }
  for (var j = 0u; j < TN; j++) {
    if (TRANS_B) {
      blk.colOff[j] = baseB + min(n0 + j, N - 1u) * K;
    } else {
      if (VEC_B) { blk.colOff[j] = baseB + min(n0 + (j & ~3u), N - 4u) + (j & 3u); }
      else { blk.colOff[j] = baseB + min(n0 + j, N - 1u); }
    }
  }

  let kFull = K & ~3u;
  for (var k = 0u; k < kFull; k += 4u) {
    var t = loadB(&blk, k);
    step(&blk, 0u, k, &t);
    if (TM > 4u) { step(&blk, 1u, k, &t); }
    if (TM > 8u) { step(&blk, 2u, k, &t); }
    if (TM > 12u) { step(&blk, 3u, k, &t); }
    if (TM > 16u) { step(&blk, 4u, k, &t); }
    if (TM > 20u) { step(&blk, 5u, k, &t); }
    if (TM > 24u) { step(&blk, 6u, k, &t); }
    if (TM > 28u) { step(&blk, 7u, k, &t); }
  }
  for (var k = kFull; k < K; k++) {
    var bk: array<vec4<f32>, MAX_TN4>;
    for (var j = 0u; j < TN / 4u; j++) {
      var v: vec4<f32>;
      for (var e = 0u; e < 4u; e++) {
        if (TRANS_B) { v[e] = b[blk.colOff[4u * j + e] + k]; } else { v[e] = b[k * N + blk.colOff[4u * j + e]]; }
      }
      bk[j] = v;
    }
    tailStep(&blk, 0u, k, &bk);
    if (TM > 4u) { tailStep(&blk, 1u, k, &bk); }
    if (TM > 8u) { tailStep(&blk, 2u, k, &bk); }
    if (TM > 12u) { tailStep(&blk, 3u, k, &bk); }
    if (TM > 16u) { tailStep(&blk, 4u, k, &bk); }
    if (TM > 20u) { tailStep(&blk, 5u, k, &bk); }
    if (TM > 24u) { tailStep(&blk, 6u, k, &bk); }
    if (TM > 28u) { tailStep(&blk, 7u, k, &bk); }
  }

  let baseC = wg.z * params.strideC;
  storeRows(&blk, 0u, m0, n0, baseC);
  if (TM > 4u) { storeRows(&blk, 1u, m0, n0, baseC); }
  if (TM > 8u) { storeRows(&blk, 2u, m0, n0, baseC); }
  if (TM > 12u) { storeRows(&blk, 3u, m0, n0, baseC); }
  if (TM > 16u) { storeRows(&blk, 4u, m0, n0, baseC); }
  if (TM > 20u) { storeRows(&blk, 5u, m0, n0, baseC); }
  if (TM > 24u) { storeRows(&blk, 6u, m0, n0, baseC); }
  if (TM > 28u) { storeRows(&blk, 7u, m0, n0, baseC); }
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
