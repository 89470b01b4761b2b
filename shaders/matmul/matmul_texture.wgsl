// matmul_texture: C[zBase + z] = opA[z] * opB[z] (+ bias[N] added to every row), float32, with
// both operands read from rgba32float textures (matmul_pack, conv_pad_pack, conv_pack_flipped).
//   ta: texel (k4, zA * M + m) = op(A_z)[m, 4*k4 .. +3]; zA = z when batchedA, else 0.
//   tb: texel (n4, zB * 4*K4 + k) = op(B_z)[k, 4*n4 .. +3]; zB likewise. Both are zero past K.
//   c is row-major [zBase + batch, M, N]: zBase lets a product done in batch chunks (textures
//   are at most maxTextureDimension2D rows) write each chunk in place.
// Why textures: on llvmpipe (Mesa 22) a storage-buffer load is a loop over the 8 SIMD lanes
// with a branch per lane and component, while a texel fetch is one vectorised gather; a
// register-blocked product that fetches its operands ran 3x faster (1024^3: 18 against 6
// GFLOP/s on 2 cores). GPUs keep the workgroup-memory tiles of matmul.wgsl.
//
// Dense convs (CPU rasterisers) read a patch matrix straight from a zero-padded input instead of
// a packed operand: conv_pad_pack's texel (q, (z * C + ch) * Hp + y) = xpad[z, ch, y, 4q .. +3],
// and patch row r = (ch * KH + ky) * KW + kx, column p = oy * OW + ox holds
// xpad[z, ch, oy*sH + ky*dH, ox*SW + kx*dW]. OW is a multiple of 4, so 4 consecutive pixels
// share a row and their inputs lie in 2 (SW = 1) or 3 (SW = 2) texels.
//   IM2COL: op(B_z) is image z's patch matrix [R, P] (tb is the padded input): the forward and
//     input gradient. Rows past R read row R - 1 (A's padding columns, which multiply them, are 0).
//   PATCHES_A: op(A) is the patch matrix [R, K], K running over the pixels of Pz images per z
//     (ta is the padded input; the last z may have fewer: K4total),
//     op(B) is g^T [K, O]; C is stored transposed, [N, M] = [O, R]: the weight gradient, summed
//     over the images of each z.
// Bindings: params (uniform); ta, tb (textures); bias (read; any buffer when HAS_BIAS is false);
//   c (written: every element of [batch, M, N]).
//
// Tiling (override constants, from gpu().tuning.matmulTexture): WG threads per workgroup, each
// computing one TM x 4*TN4 block of C (TM 1..16, TN4 1..8); blocks are numbered row-major. K
// advances 4 at a time: 4 x TN4 texels of B and TM texels of A, then 4*TM*TN4 vec4 FMAs into
// private accumulators. Rows and column groups are unrolled by hand and pruned with
// `if (TM > i)` / `if (TN4 > j)`, so the compiler sees constant indices into the accumulators
// (registers). Rows and columns past the edge fetch the last valid texel and are not written.
// Grid: ceil(blocks / WG) workgroups folded into x and y (index = x + y * nwg.x), batch in z;
// PATCHES_A: ceil(blocks * batch / WG) folded into x and y, z = 1.

struct Params {
  M: u32,
  N: u32,
  K4: u32,
  batchedA: u32,
  batchedB: u32,
  zBase: u32,
  // IM2COL and PATCHES_A only (any values otherwise): the conv's R = C*KH*KW, input channels,
  // output height and width, padded input height, vertical stride, dilations; PATCHES_A: images
  // per z, and K4 of all of them.
  R: u32,
  C: u32,
  OH: u32,
  OW: u32,
  Hp: u32,
  sH: u32,
  dH: u32,
  dW: u32,
  Pz: u32,
  K4total: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var ta: texture_2d<f32>;
@group(0) @binding(2) var tb: texture_2d<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

override HAS_BIAS: bool = false;
override WG: u32 = 8;
override TM: u32 = 8;
override TN4: u32 = 4;
override IM2COL: bool = false;
override PATCHES_A: bool = false;
override KH: u32 = 1;
override KW: u32 = 1;
override SW: u32 = 1;

const MAXJ: u32 = 8u;

// acc[i * MAXJ + j] = C[m0 + i, n0 + 4j .. +3]; bt[kk * MAXJ + j] = op(B)[4*k4 + kk, n0 + 4j .. +3].
var<private> acc: array<vec4<f32>, 128>;
var<private> bt: array<vec4<f32>, 32>;
// Texel coordinates: colB[j] = column texel of group j (clamped); rowA[i] = A's row of row i (clamped).
var<private> colB: array<i32, 8>;
var<private> rowA: array<i32, 16>;
// IM2COL: rowB[j] = oy * sH of group j's pixels, plus its image's first row; colB[j] = ox * SW
// of its first pixel (in floats).
var<private> rowB: array<i32, 8>;
// PATCHES_A: rowA[i] = ch * Hp + ky * dH and colA[i] = kx * dW of patch row m0 + i; the pixels
// of the current K step start at padded row imageRow + oy * sH, float column ox * SW.
var<private> colA: array<i32, 16>;
var<private> imageRow: i32;
var<private> oy: u32;
var<private> ox: u32;

// Patch values of 4 consecutive pixels (SW apart) whose inputs start at float f of padded row y,
// from ta (PATCHES_A) or tb (IM2COL).
fn fourPixels(y: i32, f: i32) -> vec4<f32> {
  let q = f >> 2u;
  let s = f & 3;
  var a: vec4<f32>;
  var b: vec4<f32>;
  var c2: vec4<f32>;
  if (PATCHES_A) {
    a = textureLoad(ta, vec2<i32>(q, y), 0);
    b = textureLoad(ta, vec2<i32>(q + 1, y), 0);
    if (SW == 2u) { c2 = textureLoad(ta, vec2<i32>(q + 2, y), 0); }
  } else {
    a = textureLoad(tb, vec2<i32>(q, y), 0);
    b = textureLoad(tb, vec2<i32>(q + 1, y), 0);
    if (SW == 2u) { c2 = textureLoad(tb, vec2<i32>(q + 2, y), 0); }
  }
  if (SW == 1u) {
    return select(select(select(a, vec4<f32>(a.yzw, b.x), s == 1), vec4<f32>(a.zw, b.xy), s == 2), vec4<f32>(a.w, b.xyz), s == 3);
  }
  return select(select(select(vec4<f32>(a.xz, b.xz), vec4<f32>(a.yw, b.yw), s == 1),
                       vec4<f32>(a.z, b.xz, c2.x), s == 2), vec4<f32>(a.w, b.yw, c2.y), s == 3);
}

// bt's column group j at rows 4*k4 .. +3 of op(B): packed texels (rows kBase + 4*k4 ..), or
// with IM2COL the patch matrix's rows, fetched from the padded input.
fn loadBGroup(j: u32, k4: u32, kBase: i32) {
  for (var kk = 0u; kk < 4u; kk++) {
    if (IM2COL) {
      let r = min(4u * k4 + kk, params.R - 1u);
      let ch = r / (KH * KW);
      let ky = (r / KW) % KH;
      let kx = r % KW;
      bt[kk * MAXJ + j] = fourPixels(rowB[j] + i32(ch * params.Hp + ky * params.dH), colB[j] + i32(kx * params.dW));
    } else {
      bt[kk * MAXJ + j] = textureLoad(tb, vec2<i32>(colB[j], kBase + i32(4u * k4 + kk)), 0);
    }
  }
}

fn fmaGroup(i: u32, j: u32, a: vec4<f32>) {
  let o = i * MAXJ + j;
  acc[o] = fma(vec4<f32>(a.w), bt[3u * MAXJ + j], fma(vec4<f32>(a.z), bt[2u * MAXJ + j],
           fma(vec4<f32>(a.y), bt[MAXJ + j], fma(vec4<f32>(a.x), bt[j], acc[o]))));
}

// Row i of the block: one texel of A (4 values of k) times the 4 x TN slice of B.
fn rowStep(i: u32, k4: i32) {
  var a: vec4<f32>;
  if (PATCHES_A) {
    a = fourPixels(imageRow + i32(oy * params.sH) + rowA[i], i32(ox * SW) + colA[i]);
  } else {
    a = textureLoad(ta, vec2<i32>(k4, rowA[i]), 0);
  }
  fmaGroup(i, 0u, a);
  if (TN4 > 1u) { fmaGroup(i, 1u, a); }
  if (TN4 > 2u) { fmaGroup(i, 2u, a); }
  if (TN4 > 3u) { fmaGroup(i, 3u, a); }
  if (TN4 > 4u) { fmaGroup(i, 4u, a); }
  if (TN4 > 5u) { fmaGroup(i, 5u, a); }
  if (TN4 > 6u) { fmaGroup(i, 6u, a); }
  if (TN4 > 7u) { fmaGroup(i, 7u, a); }
}

// C[m0 + i, n0 + 4j .. +3] = acc (+ bias), inside the matrix only.
fn storeGroup(i: u32, j: u32, m0: u32, n0: u32, baseC: u32) {
  let m = m0 + i;
  if (m >= params.M) { return; }
  let v = acc[i * MAXJ + j];
  for (var e = 0u; e < 4u; e++) {
    let n = n0 + 4u * j + e;
    if (n < params.N) {
      var y = v[e];
      if (HAS_BIAS) { y += bias[n]; }
      if (PATCHES_A) { c[baseC + n * params.M + m] = y; } else { c[baseC + m * params.N + n] = y; }
    }
  }
}

fn storeRow(i: u32, m0: u32, n0: u32, baseC: u32) {
  storeGroup(i, 0u, m0, n0, baseC);
  if (TN4 > 1u) { storeGroup(i, 1u, m0, n0, baseC); }
  if (TN4 > 2u) { storeGroup(i, 2u, m0, n0, baseC); }
  if (TN4 > 3u) { storeGroup(i, 3u, m0, n0, baseC); }
  if (TN4 > 4u) { storeGroup(i, 4u, m0, n0, baseC); }
  if (TN4 > 5u) { storeGroup(i, 5u, m0, n0, baseC); }
  if (TN4 > 6u) { storeGroup(i, 6u, m0, n0, baseC); }
  if (TN4 > 7u) { storeGroup(i, 7u, m0, n0, baseC); }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let M = params.M;
  // Blocks are numbered row-major over the whole [M, N] output, so no thread idles past the
  // N edge of a narrow product (a 1x1 conv on an 8x8 map has N = 64).
  let colBlocks = (params.N + 4u * TN4 - 1u) / (4u * TN4);
  let blocks = colBlocks * ((M + TM - 1u) / TM);
  var blk = (wg.x + wg.y * nwg.x) * WG + lid.x;
  var z = wg.z;
  if (PATCHES_A) {
    // A weight gradient has few blocks (16 x 16 channels: one) and many splits: the splits
    // are numbered with the blocks, so a workgroup's lanes are not left idle.
    z = blk / blocks;
    blk = blk % blocks;
    if (z * params.K4 >= params.K4total) { return; }
  } else if (blk >= blocks) {
    return;
  }
  let n0 = (blk % colBlocks) * 4u * TN4;
  let m0 = (blk / colBlocks) * TM;
  let lastTexel = (params.N + 3u) / 4u - 1u;
  for (var j = 0u; j < TN4; j++) {
    if (IM2COL) {
      let p = 4u * min(n0 / 4u + j, lastTexel);
      let oy = p / params.OW;
      rowB[j] = i32(z * params.C * params.Hp + oy * params.sH);
      colB[j] = i32((p - oy * params.OW) * SW);
    } else {
      colB[j] = i32(min(n0 / 4u + j, lastTexel));
    }
  }
  let rowBase = select(0u, z * M, params.batchedA != 0u);
  for (var i = 0u; i < TM; i++) {
    let m = min(m0 + i, M - 1u);
    if (PATCHES_A) {
      rowA[i] = i32((m / (KH * KW)) * params.Hp + ((m / KW) % KH) * params.dH);
      colA[i] = i32((m % KW) * params.dW);
    } else {
      rowA[i] = i32(rowBase + m);
    }
  }
  let kBase = i32(select(0u, z * 4u * params.K4, params.batchedB != 0u));
  var kEnd = params.K4;
  if (PATCHES_A) {
    imageRow = i32(z * params.Pz * params.C * params.Hp);
    kEnd = min(params.K4, params.K4total - z * params.K4);
  }

  // acc starts at 0 (private variables are zero-initialised).
  for (var k4 = 0; k4 < i32(kEnd); k4++) {
    loadBGroup(0u, u32(k4), kBase);
    if (TN4 > 1u) { loadBGroup(1u, u32(k4), kBase); }
    if (TN4 > 2u) { loadBGroup(2u, u32(k4), kBase); }
    if (TN4 > 3u) { loadBGroup(3u, u32(k4), kBase); }
    if (TN4 > 4u) { loadBGroup(4u, u32(k4), kBase); }
    if (TN4 > 5u) { loadBGroup(5u, u32(k4), kBase); }
    if (TN4 > 6u) { loadBGroup(6u, u32(k4), kBase); }
    if (TN4 > 7u) { loadBGroup(7u, u32(k4), kBase); }
    rowStep(0u, k4);
    if (TM > 1u) { rowStep(1u, k4); }
    if (TM > 2u) { rowStep(2u, k4); }
    if (TM > 3u) { rowStep(3u, k4); }
    if (TM > 4u) { rowStep(4u, k4); }
    if (TM > 5u) { rowStep(5u, k4); }
    if (TM > 6u) { rowStep(6u, k4); }
    if (TM > 7u) { rowStep(7u, k4); }
    if (TM > 8u) { rowStep(8u, k4); }
    if (TM > 9u) { rowStep(9u, k4); }
    if (TM > 10u) { rowStep(10u, k4); }
    if (TM > 11u) { rowStep(11u, k4); }
    if (TM > 12u) { rowStep(12u, k4); }
    if (TM > 13u) { rowStep(13u, k4); }
    if (TM > 14u) { rowStep(14u, k4); }
    if (TM > 15u) { rowStep(15u, k4); }
    if (PATCHES_A) {
      // The next 4 pixels: along the row, then down, then into the next image.
      ox += 4u;
      if (ox == params.OW) {
        ox = 0u;
        oy += 1u;
        if (oy == params.OH) {
          oy = 0u;
          imageRow += i32(params.C * params.Hp);
        }
      }
    }
  }

  let baseC = (params.zBase + z) * M * params.N;
  storeRow(0u, m0, n0, baseC);
  if (TM > 1u) { storeRow(1u, m0, n0, baseC); }
  if (TM > 2u) { storeRow(2u, m0, n0, baseC); }
  if (TM > 3u) { storeRow(3u, m0, n0, baseC); }
  if (TM > 4u) { storeRow(4u, m0, n0, baseC); }
  if (TM > 5u) { storeRow(5u, m0, n0, baseC); }
  if (TM > 6u) { storeRow(6u, m0, n0, baseC); }
  if (TM > 7u) { storeRow(7u, m0, n0, baseC); }
  if (TM > 8u) { storeRow(8u, m0, n0, baseC); }
  if (TM > 9u) { storeRow(9u, m0, n0, baseC); }
  if (TM > 10u) { storeRow(10u, m0, n0, baseC); }
  if (TM > 11u) { storeRow(11u, m0, n0, baseC); }
  if (TM > 12u) { storeRow(12u, m0, n0, baseC); }
  if (TM > 13u) { storeRow(13u, m0, n0, baseC); }
  if (TM > 14u) { storeRow(14u, m0, n0, baseC); }
  if (TM > 15u) { storeRow(15u, m0, n0, baseC); }
}
