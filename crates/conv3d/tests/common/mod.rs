//! A naive reference convolution (the definition, in f64) and helpers shared by the tests.

#![allow(dead_code)] // each test binary uses its own subset

use adamm_conv3d::Conv3dGeometry;

/// Deterministic values in [-1, 1) from a seed (xorshift64*).
pub fn random_values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let v = s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
            (v as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Calls `f(n, o, i, [z, y, x], [kz, ky, kx], input_index)` for every output position, kernel
/// tap and channel pair whose input position lies inside the input (padding reads zero).
fn for_each_term(g: &Conv3dGeometry, mut f: impl FnMut(usize, usize, usize, usize, usize)) {
    let [d, h, w] = g.input();
    let [od, oh, ow] = g.output();
    let [kd, kh, kw] = g.kernel();
    let (s, p) = (g.stride(), g.padding());
    let (ci, co) = (g.channels_in(), g.channels_out());
    for n in 0..g.batch() {
        for o in 0..co {
            for z in 0..od {
                for y in 0..oh {
                    for x in 0..ow {
                        let out = (((n * co + o) * od + z) * oh + y) * ow + x;
                        for i in 0..ci {
                            for a in 0..kd {
                                let zz = (z * s[0] + a) as isize - p[0] as isize;
                                if zz < 0 || zz >= d as isize {
                                    continue;
                                }
                                for b in 0..kh {
                                    let yy = (y * s[1] + b) as isize - p[1] as isize;
                                    if yy < 0 || yy >= h as isize {
                                        continue;
                                    }
                                    for c in 0..kw {
                                        let xx = (x * s[2] + c) as isize - p[2] as isize;
                                        if xx < 0 || xx >= w as isize {
                                            continue;
                                        }
                                        let input = (((n * ci + i) * d + zz as usize) * h
                                            + yy as usize)
                                            * w
                                            + xx as usize;
                                        let weight = (((o * ci + i) * kd + a) * kh + b) * kw + c;
                                        f(out, input, weight, o, i);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `y = conv(x, w) + b`, accumulated in f64.
pub fn reference_forward(g: &Conv3dGeometry, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f64> {
    let mut y = vec![0.0f64; g.output_len()];
    for_each_term(g, |out, input, weight, _, _| {
        y[out] += f64::from(x[input]) * f64::from(w[weight]);
    });
    if let Some(b) = b {
        let plane = g.output().iter().product::<usize>();
        for (i, v) in y.iter_mut().enumerate() {
            *v += f64::from(b[(i / plane) % g.channels_out()]);
        }
    }
    y
}

/// `∂L/∂x` for `∂L/∂y = dy`, accumulated in f64.
pub fn reference_input_grad(g: &Conv3dGeometry, w: &[f32], dy: &[f32]) -> Vec<f64> {
    let mut dx = vec![0.0f64; g.input_len()];
    for_each_term(g, |out, input, weight, _, _| {
        dx[input] += f64::from(dy[out]) * f64::from(w[weight]);
    });
    dx
}

/// `∂L/∂w` for `∂L/∂y = dy`, accumulated in f64.
pub fn reference_weight_grad(g: &Conv3dGeometry, x: &[f32], dy: &[f32]) -> Vec<f64> {
    let mut dw = vec![0.0f64; g.weight_len()];
    for_each_term(g, |out, input, weight, _, _| {
        dw[weight] += f64::from(dy[out]) * f64::from(x[input]);
    });
    dw
}

/// Largest relative error of `actual` against `expected`, relative to the largest magnitude of
/// `expected` (so that entries that cancel to near zero are judged on the tensor's scale).
pub fn max_relative_error(actual: &[f32], expected: &[f64]) -> f64 {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    let scale = expected
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-30);
    actual
        .iter()
        .zip(expected)
        .map(|(&a, &e)| (f64::from(a) - e).abs() / scale)
        .fold(0.0, f64::max)
}
