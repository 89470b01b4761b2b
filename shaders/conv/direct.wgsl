// experimental direct conv with compile-time geometry
struct Params {
  N: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, Cg: u32,
  Og: u32, padH: u32, padW: u32, tilesX: u32,
  tilesY: u32, oBlocks: u32, wgX: u32, threads: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override TM: u32 = 1;
override TH: u32 = 1;
override TW: u32 = 4;
override KH: u32 = 3;
override KW: u32 = 3;
override SH: u32 = 1;
override SW: u32 = 1;
override DH: u32 = 1;
override DW: u32 = 1;
override HAS_BIAS: bool = false;

const MAX_ACC: u32 = 256u;
const MAX_PATCH: u32 = 512u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * params.wgX + wid.x) * WG + lid;
  if (t >= params.threads) { return; }
  let tx = t % params.tilesX;
  let t2 = t / params.tilesX;
  let ty = t2 % params.tilesY;
  let n = t2 / params.tilesY;
  let gi = wid.z / params.oBlocks;
  let co0 = (wid.z % params.oBlocks) * TM;
  let Cg = params.Cg;
  let H = params.H;
  let W = params.W;
  let HW = H * W;
  let PH = (TH - 1u) * SH + (KH - 1u) * DH + 1u;
  let PW = (TW - 1u) * SW + (KW - 1u) * DW + 1u;
  let oy0 = ty * TH;
  let ox0 = tx * TW;
  let iy0 = i32(oy0 * SH) - i32(params.padH);
  let ix0 = i32(ox0 * SW) - i32(params.padW);

  var acc: array<f32, MAX_ACC>;
  for (var i = 0u; i < TM * TH * TW; i++) { acc[i] = 0.0; }

  var xb = (n * params.C + gi * Cg) * HW;
  var wb: array<u32, 16>;
  for (var m = 0u; m < TM; m++) {
    wb[m] = (gi * params.Og + min(co0 + m, params.Og - 1u)) * Cg * KH * KW;
  }
  for (var ci = 0u; ci < Cg; ci++) {
    var xs: array<f32, MAX_PATCH>;
    for (var py = 0u; py < PH; py++) {
      let iy = iy0 + i32(py);
      let rowOk = (iy >= 0) & (iy < i32(H));
      for (var px = 0u; px < PW; px++) {
        let ix = ix0 + i32(px);
        let ok = rowOk & (ix >= 0) & (ix < i32(W));
        let idx = select(0u, xb + u32(iy) * W + u32(ix), ok);
        xs[py * PW + px] = select(0.0, x[idx], ok);
      }
    }
    for (var m = 0u; m < TM; m++) {
      for (var ky = 0u; ky < KH; ky++) {
        for (var kx = 0u; kx < KW; kx++) {
          let wv = w[wb[m] + ky * KW + kx];
          for (var oy = 0u; oy < TH; oy++) {
            for (var ox = 0u; ox < TW; ox++) {
              let a = (m * TH + oy) * TW + ox;
              acc[a] = fma(wv, xs[(oy * SH + ky * DH) * PW + ox * SW + kx * DW], acc[a]);
            }
          }
        }
      }
      wb[m] += KH * KW;
    }
    xb += HW;
  }

  for (var m = 0u; m < TM; m++) {
    let co = co0 + m;
    if (co < params.Og) {
      let oc = gi * params.Og + co;
      var b = 0.0;
      if (HAS_BIAS) { b = bias[oc]; }
      for (var oy = 0u; oy < TH; oy++) {
        let yy = oy0 + oy;
        for (var ox = 0u; ox < TW; ox++) {
          let xx = ox0 + ox;
          if (yy < params.OH && xx < params.OW) {
            out[((n * params.O + oc) * params.OH + yy) * params.OW + xx] = acc[(m * TH + oy) * TW + ox] + b;
          }
        }
      }
    }
  }
}
