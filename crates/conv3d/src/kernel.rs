//! The kernels: forward, input gradient, weight gradient and bias gradient on NCDHW slices.
//!
//! # Formulation: shifted GEMMs over a phase-split, padded input
//!
//! The input of each sample is copied once into *phase images*: for stride `s` the padded input
//! splits into `s³` sub-grids (`phase[a,b,c][i,j,k] = x_padded[s·i + a, s·j + b, s·k + c]`), each
//! `(od + ⌊(kd−1)/s⌋) × (oh + ⌊(kh−1)/s⌋) × (ow + ⌊(kw−1)/s⌋)` and zero outside the input
//! (for stride 1 this is just the zero-padded input). Kernel tap `(kd, kh, kw)` reads phase
//! `(kd mod s, kh mod s, kw mod s)` at a constant offset `(⌊kd/s⌋, ⌊kh/s⌋, ⌊kw/s⌋)` from the output
//! position. Flattening the phase image row-major and indexing the output on the same *wide*
//! grid (rows of the phase image's width, the columns past `ow` discarded), every tap becomes a
//! GEMM whose right-hand side is a plain strided view of a phase image:
//!
//! `y_wide[co, j] += Σ_ci w[co, ci, tap] · phase(tap)[ci, j + shift(tap)]`
//!
//! so no im2col matrix exists at all: the `gemm` crate packs its panels straight from the phase
//! images. The output is computed in tiles of whole wide rows (a few hundred KB, in cache), one
//! tile per task, and the valid columns are copied out (bias added) at the end of each tile.
//!
//! The input gradient is the adjoint of the same map, written as a gather so that tiles stay
//! independent: the output gradient is copied once into the wide grid, zero in the discarded
//! columns and with a zero margin in front, and each tile of each phase image receives
//! `Σ_{taps of that phase} wᵀ[ci, co] · dy_wide[co, q − shift(tap)]`; the phase images' values
//! inside the input are the input gradient. The weight gradient is, per tap,
//! `dw[tap] = Σ_j dy_wide[·, j] · phase(tap)[·, j + shift(tap)]ᵀ`, accumulated per thread over
//! tiles and summed.
//!
//! Extra memory: one phase copy of the input (about the padded input's size) and, for the
//! gradients, one wide copy of the output gradient; scratch tiles per thread.

use crate::direct;
use crate::geometry::volume;
use crate::par::{self, SharedMut};
use crate::{Conv3dError, Conv3dGeometry};

/// Target number of values in one task's output tile (256 KB of f32: half the L2 of the
/// machines this was tuned on).
const TILE_VALUES: usize = 1 << 16;
/// Bounds on a tile's width in columns (output positions).
const TILE_MIN_COLUMNS: usize = 256;
const TILE_MAX_COLUMNS: usize = 16384;

/// From this many input channels on, the forward packs each tile's taps into one contiguous
/// panel and runs one GEMM per block of channels instead of one GEMM per tap: with many
/// channels the per-tap GEMM reads too many strided streams at once.
const PACKED_MIN_CHANNELS: usize = 64;
/// Input channels per packed panel (the panel is `block · k³ · tile` values).
const PACKED_BLOCK_CHANNELS: usize = 16;

/// One kernel tap: its index in the weight's `kd·kh·kw` block, the phase image it reads and its
/// offset in that image's flattened grid.
#[derive(Debug, Clone, Copy)]
struct Tap {
    index: usize,
    phase: usize,
    shift: usize,
}

/// Everything the kernels derive from a geometry.
#[derive(Debug)]
struct Plan {
    g: Conv3dGeometry,
    /// Phase image extent `[dq, hq, wq]`.
    grid: [usize; 3],
    /// Phases per axis, `min(stride, kernel)`.
    phases: [usize; 3],
    phase_count: usize,
    /// Values in one phase image of one channel.
    q: usize,
    /// Wide rows holding the output: `(od − 1)·hq + oh`.
    wide_rows: usize,
    /// Wide columns holding the output: `(od − 1)·hq·wq + (oh − 1)·wq + ow`.
    wide_len: usize,
    /// The largest tap shift: the zero margin in front of the wide output gradient.
    margin: usize,
    taps: Vec<Tap>,
}

impl Plan {
    fn new(g: &Conv3dGeometry) -> Self {
        let (k, s, o) = (g.kernel(), g.stride(), g.output());
        let grid = [0, 1, 2].map(|a| o[a] + (k[a] - 1) / s[a]);
        let phases = [0, 1, 2].map(|a| s[a].min(k[a]));
        let plane = grid[1] * grid[2];
        let mut taps = Vec::with_capacity(volume(k));
        for kd in 0..k[0] {
            for kh in 0..k[1] {
                for kw in 0..k[2] {
                    taps.push(Tap {
                        index: (kd * k[1] + kh) * k[2] + kw,
                        phase: ((kd % s[0]) * phases[1] + kh % s[1]) * phases[2] + kw % s[2],
                        shift: (kd / s[0]) * plane + (kh / s[1]) * grid[2] + kw / s[2],
                    });
                }
            }
        }
        Plan {
            g: *g,
            grid,
            phases,
            phase_count: volume(phases),
            q: volume(grid),
            wide_rows: (o[0] - 1) * grid[1] + o[1],
            wide_len: (o[0] - 1) * plane + (o[1] - 1) * grid[2] + o[2],
            margin: ((k[0] - 1) / s[0]) * plane + ((k[1] - 1) / s[1]) * grid[2] + (k[2] - 1) / s[2],
            taps,
        }
    }

    /// Phase `(a, b, c)` of a phase index.
    fn phase_offsets(&self, phase: usize) -> [usize; 3] {
        let [_, ph, pw] = self.phases;
        [phase / (ph * pw), (phase / pw) % ph, phase % pw]
    }

    /// Rows per tile for tiles with `channels` output rows over `rows` wide rows in total.
    fn rows_per_tile(&self, channels: usize, rows: usize) -> usize {
        let wq = self.grid[2];
        let columns = (TILE_VALUES / channels).clamp(TILE_MIN_COLUMNS, TILE_MAX_COLUMNS);
        // Keep a few tiles per thread so that the threads balance.
        let tasks_wanted = 4 * par::threads();
        let total_rows = rows * self.g.batch();
        let balanced = total_rows.div_ceil(tasks_wanted).max(1);
        (columns / wq).clamp(1, balanced.max(1))
    }

    /// Copies the input into its phase images, `[batch][phase][channel][dq·hq·wq]`.
    fn pack_phases(&self, x: &[f32]) -> Vec<f32> {
        let g = &self.g;
        let (ci, [d, h, w]) = (g.channels_in(), g.input());
        let (s, p) = (g.stride(), g.padding());
        let [dq, hq, wq] = self.grid;
        let mut out = vec![0.0f32; g.batch() * self.phase_count * ci * self.q];
        par::for_each_chunk_mut(&mut out, self.q, |block, dst| {
            let channel = block % ci;
            let phase = (block / ci) % self.phase_count;
            let n = block / (ci * self.phase_count);
            let [a, b, c] = self.phase_offsets(phase);
            let src = &x[(n * ci + channel) * d * h * w..][..d * h * w];
            let (d_lo, d_hi) = valid_range(s[0], a, p[0], d, dq);
            let (h_lo, h_hi) = valid_range(s[1], b, p[1], h, hq);
            let (w_lo, w_hi) = valid_range(s[2], c, p[2], w, wq);
            if w_lo >= w_hi {
                return;
            }
            let w0 = s[2] * w_lo + c - p[2];
            for id in d_lo..d_hi {
                let z = s[0] * id + a - p[0];
                for ih in h_lo..h_hi {
                    let y = s[1] * ih + b - p[1];
                    let row = &src[(z * h + y) * w..][..w];
                    let dst_row = &mut dst[(id * hq + ih) * wq..][w_lo..w_hi];
                    if s[2] == 1 {
                        dst_row.copy_from_slice(&row[w0..w0 + dst_row.len()]);
                    } else {
                        for (i, v) in dst_row.iter_mut().enumerate() {
                            *v = row[w0 + i * s[2]];
                        }
                    }
                }
            }
        });
        out
    }

    /// Copies the output gradient into the wide grid, `[batch][channel][margin + dq·hq·wq]`,
    /// zero in the margin and in the columns and rows outside the output.
    fn pack_wide_grad(&self, dy: &[f32]) -> Vec<f32> {
        let g = &self.g;
        let [od, oh, ow] = g.output();
        let [_, hq, wq] = self.grid;
        let stride = self.margin + self.q;
        let mut out = vec![0.0f32; g.batch() * g.channels_out() * stride];
        par::for_each_chunk_mut(&mut out, stride, |block, dst| {
            let src = &dy[block * od * oh * ow..][..od * oh * ow];
            for z in 0..od {
                for y in 0..oh {
                    let at = self.margin + (z * hq + y) * wq;
                    dst[at..at + ow].copy_from_slice(&src[(z * oh + y) * ow..][..ow]);
                }
            }
        });
        out
    }
}

/// The indices `i < n_grid` with `0 ≤ s·i + a − p < n_in`, as a half-open range.
fn valid_range(s: usize, a: usize, p: usize, n_in: usize, n_grid: usize) -> (usize, usize) {
    let lo = if p > a { (p - a).div_ceil(s) } else { 0 };
    let hi = if n_in + p > a {
        (n_in + p - a).div_ceil(s)
    } else {
        0
    };
    (lo.min(n_grid), hi.min(n_grid))
}

/// `dst[m×n] (+)= lhs[m×k] · rhs[k×n]` on one thread; `dst` has unit column stride.
///
/// # Safety
/// Every element `dst + i·dst_rs + j`, `lhs + i·lhs_rs + l·lhs_cs` and
/// `rhs + l·rhs_rs + j·rhs_cs` for `i < m`, `j < n`, `l < k` must lie in live allocations,
/// `dst`'s writable and not aliased by `lhs` or `rhs` or by any other thread.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_f32(
    [m, n, k]: [usize; 3],
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: *const f32,
    [lhs_rs, lhs_cs]: [usize; 2],
    rhs: *const f32,
    [rhs_rs, rhs_cs]: [usize; 2],
) {
    // SAFETY: the caller's contract is gemm's, with the strides it states.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

fn check_len(buffer: &'static str, actual: usize, expected: usize) -> Result<(), Conv3dError> {
    if actual == expected {
        Ok(())
    } else {
        Err(Conv3dError::BufferLength {
            buffer,
            actual,
            expected,
        })
    }
}

/// Forward convolution: `y = conv(x, weight) + bias`, written into `y`.
///
/// Buffers are NCDHW as described on [`Conv3dGeometry`]; `y`'s previous contents are ignored.
pub fn conv3d_forward(
    geometry: &Conv3dGeometry,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) -> Result<(), Conv3dError> {
    check_len("input", x.len(), geometry.input_len())?;
    check_len("weight", weight.len(), geometry.weight_len())?;
    if let Some(bias) = bias {
        check_len("bias", bias.len(), geometry.channels_out())?;
    }
    check_len("output", y.len(), geometry.output_len())?;
    let plan = Plan::new(geometry);
    let phases = plan.pack_phases(x);
    let g = &plan.g;
    let (ci, co, k3) = (g.channels_in(), g.channels_out(), volume(g.kernel()));
    let [od, oh, ow] = g.output();
    let wq = plan.grid[2];
    let hq = plan.grid[1];
    let rows = plan.rows_per_tile(co, plan.wide_rows);
    let tiles = plan.wide_rows.div_ceil(rows);
    let out = SharedMut(y.as_mut_ptr());
    if direct::available(co) {
        forward_direct(&plan, &phases, weight, bias, y);
        return Ok(());
    }
    let packed = ci >= PACKED_MIN_CHANNELS;
    let block = PACKED_BLOCK_CHANNELS.min(ci);
    let tile_len = rows * wq;
    let pack_len = if packed { block * k3 * tile_len } else { 0 };
    par::for_each_with_scratch(
        g.batch() * tiles,
        co * tile_len + pack_len,
        |scratch, task| {
            let (n, tile) = (task / tiles, task % tiles);
            let r0 = tile * rows;
            let r1 = (r0 + rows).min(plan.wide_rows);
            let j0 = r0 * wq;
            let len = (r1 * wq).min(plan.wide_len) - j0;
            let sample =
                &phases[n * plan.phase_count * ci * plan.q..][..plan.phase_count * ci * plan.q];
            let (scratch, pack) = scratch.split_at_mut(co * tile_len);
            if packed {
                // Deep layers: copy the tile's taps for a block of channels into one contiguous
                // (channel, tap) × column panel and run one GEMM with K = block·k³ per block.
                for i0 in (0..ci).step_by(block) {
                    let nb = block.min(ci - i0);
                    for i in 0..nb {
                        for tap in &plan.taps {
                            let src =
                                &sample[(tap.phase * ci + i0 + i) * plan.q + j0 + tap.shift..];
                            pack[(i * k3 + tap.index) * len..][..len].copy_from_slice(&src[..len]);
                        }
                    }
                    // SAFETY: dst is this task's output scratch (co × len); lhs reads
                    // weight[o·ci·k3 + (i0 + i)·k3 + t] for o < co, i·k3 + t < nb·k3 (inside the
                    // weight); rhs reads pack[r·len + c] for r < nb·k3, c < len (inside `pack`).
                    unsafe {
                        gemm_f32(
                            [co, len, nb * k3],
                            scratch.as_mut_ptr(),
                            len,
                            i0 > 0,
                            weight.as_ptr().add(i0 * k3),
                            [ci * k3, 1],
                            pack.as_ptr(),
                            [len, 1],
                        )
                    }
                }
            } else {
                for (t, tap) in plan.taps.iter().enumerate() {
                    let rhs = &sample[tap.phase * ci * plan.q + j0 + tap.shift..];
                    debug_assert!((ci - 1) * plan.q + len <= rhs.len());
                    // SAFETY: dst is this task's scratch (co × len ≤ its length); lhs reads
                    // weight[o·ci·k3 + i·k3 + tap] for o < co, i < ci (inside the weight); rhs reads
                    // rhs[i·q + c] for i < ci, c < len: inside the sample's phases, since
                    // j0 + len + shift ≤ wide_len + margin = q.
                    unsafe {
                        gemm_f32(
                            [co, len, ci],
                            scratch.as_mut_ptr(),
                            len,
                            t > 0,
                            weight.as_ptr().add(tap.index),
                            [ci * k3, k3],
                            rhs.as_ptr(),
                            [plan.q, 1],
                        )
                    }
                }
            }
            for r in r0..r1 {
                let (z, row) = (r / hq, r % hq);
                if row >= oh {
                    continue;
                }
                let column = (r - r0) * wq;
                for c in 0..co {
                    let src = &scratch[c * len + column..][..ow];
                    let b = bias.map_or(0.0, |b| b[c]);
                    let at = ((n * co + c) * od + z) * oh * ow + row * ow;
                    // SAFETY: `at..at + ow` is output row (n, c, z, row), inside `y`; each row
                    // belongs to exactly one tile of one task, so no two tasks write it.
                    let dst = unsafe { std::slice::from_raw_parts_mut(out.get().add(at), ow) };
                    for (d, s) in dst.iter_mut().zip(src) {
                        *d = s + b;
                    }
                }
            }
        },
    );
    Ok(())
}

/// The forward on the direct kernel: tasks of whole output rows, each row's positions read at
/// their place in the phase images and written straight into `y`, bias included.
fn forward_direct(
    plan: &Plan,
    phases: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    let g = &plan.g;
    let (ci, co, k3) = (g.channels_in(), g.channels_out(), volume(g.kernel()));
    let [od, oh, ow] = g.output();
    let [_, hq, wq] = plan.grid;
    let plane = od * oh * ow;
    let weights = direct::pack_weights(k3, ci, co, |t, c, o| {
        weight[(o * ci + c) * k3 + plan.taps[t].index]
    });
    let offsets: Vec<isize> = plan
        .taps
        .iter()
        .map(|tap| (tap.phase * ci * plan.q + tap.shift) as isize)
        .collect();
    // Every output row's positions, as slots (the same for each sample).
    let mut slots = Vec::with_capacity(od * oh * ow.div_ceil(direct::LANES));
    for r in 0..od * oh {
        let (z, row) = (r / oh, r % oh);
        for x0 in (0..ow).step_by(direct::LANES) {
            slots.push(direct::Slot {
                input: (z * hq + row) * wq + x0,
                output: r * ow + x0,
                lanes: direct::LANES.min(ow - x0),
            });
        }
    }
    // Tasks of whole register blocks (a multiple of 3 slots), a few per thread.
    let per_task = (TILE_VALUES / co / direct::LANES)
        .min(slots.len().div_ceil(4 * par::threads()))
        .next_multiple_of(3)
        .max(3);
    let tiles = slots.len().div_ceil(per_task);
    let out = SharedMut(y.as_mut_ptr());
    par::for_each_with_scratch(g.batch() * tiles, 0, |_, task| {
        let (n, tile) = (task / tiles, task % tiles);
        let slots = &slots[tile * per_task..((tile + 1) * per_task).min(slots.len())];
        let sample =
            &phases[n * plan.phase_count * ci * plan.q..][..plan.phase_count * ci * plan.q];
        let sum = direct::TapSum {
            input: sample,
            channel_stride: plan.q,
            channels: ci,
            offsets: &offsets,
            weights: &weights,
        };
        // SAFETY: slot outputs are n·co·plane + o·plane + r·ow + x for x < ow and o < co:
        // inside `y`; each slot belongs to one task only and slots do not overlap.
        unsafe { sum.run_slots(slots, out.get().add(n * co * plane), plane, bias) };
    });
}

/// Input gradient (the transposed convolution): `dx = ∂L/∂x` from `dy = ∂L/∂y`, written into
/// `dx` (its previous contents are ignored).
pub fn conv3d_input_grad(
    geometry: &Conv3dGeometry,
    weight: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<(), Conv3dError> {
    check_len("weight", weight.len(), geometry.weight_len())?;
    check_len("output gradient", dy.len(), geometry.output_len())?;
    check_len("input gradient", dx.len(), geometry.input_len())?;
    let plan = Plan::new(geometry);
    let wide = plan.pack_wide_grad(dy);
    let g = &plan.g;
    let (ci, co, k3) = (g.channels_in(), g.channels_out(), volume(g.kernel()));
    let ([d, h, w], s, p) = (g.input(), g.stride(), g.padding());
    let [dq, hq, wq] = plan.grid;
    let wide_stride = plan.margin + plan.q;
    let mut by_phase: Vec<Vec<Tap>> = vec![Vec::new(); plan.phase_count];
    for tap in &plan.taps {
        by_phase[tap.phase].push(*tap);
    }
    let direct = direct::available(ci);
    // Per phase: the transposed weights of its taps, packed for the direct kernel.
    let direct_weights: Vec<Vec<f32>> = if direct {
        by_phase
            .iter()
            .map(|taps| {
                direct::pack_weights(taps.len(), co, ci, |t, o, i| {
                    weight[(o * ci + i) * k3 + taps[t].index]
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    dx.fill(0.0);
    let rows_total = dq * hq;
    let rows = plan.rows_per_tile(ci, rows_total * plan.phase_count);
    let tiles = rows_total.div_ceil(rows);
    let out = SharedMut(dx.as_mut_ptr());
    let tasks = g.batch() * plan.phase_count * tiles;
    par::for_each_with_scratch(tasks, ci * rows * wq, |scratch, task| {
        let tile = task % tiles;
        let phase = (task / tiles) % plan.phase_count;
        let n = task / (tiles * plan.phase_count);
        let taps = &by_phase[phase];
        if taps.is_empty() {
            return;
        }
        let r0 = tile * rows;
        let r1 = (r0 + rows).min(rows_total);
        let q0 = r0 * wq;
        let len = (r1 - r0) * wq;
        let sample = &wide[n * co * wide_stride..][..co * wide_stride];
        if direct {
            // Position q of the tile reads the wide gradient at margin + q0 + q − shift.
            let offsets: Vec<isize> = taps
                .iter()
                .map(|tap| (plan.margin + q0 - tap.shift) as isize)
                .collect();
            direct::TapSum {
                input: sample,
                channel_stride: wide_stride,
                channels: co,
                offsets: &offsets,
                weights: &direct_weights[phase],
            }
            .run(len, scratch, len);
        } else {
            for (t, tap) in taps.iter().enumerate() {
                let rhs = &sample[plan.margin + q0 - tap.shift..];
                debug_assert!((co - 1) * wide_stride + len <= rhs.len());
                // SAFETY: dst is this task's scratch (ci × len); lhs reads
                // weight[o·ci·k3 + i·k3 + tap] for i < ci, o < co; rhs reads rhs[o·stride + c]
                // for o < co, c < len: inside the sample, since margin + q0 + len − shift ≤
                // margin + q and shift ≤ margin.
                unsafe {
                    gemm_f32(
                        [ci, len, co],
                        scratch.as_mut_ptr(),
                        len,
                        t > 0,
                        weight.as_ptr().add(tap.index),
                        [k3, ci * k3],
                        rhs.as_ptr(),
                        [wide_stride, 1],
                    )
                }
            }
        }
        let [a, b, c] = plan.phase_offsets(phase);
        let (w_lo, w_hi) = valid_range(s[2], c, p[2], w, wq);
        for r in r0..r1 {
            let (iz, iy) = (r / hq, r % hq);
            let (z, y) = (s[0] * iz + a, s[1] * iy + b);
            if z < p[0] || z - p[0] >= d || y < p[1] || y - p[1] >= h {
                continue;
            }
            let (z, y) = (z - p[0], y - p[1]);
            let column = (r - r0) * wq;
            for channel in 0..ci {
                let src = &scratch[channel * len + column..][..wq];
                let row = ((n * ci + channel) * d + z) * h * w + y * w;
                for (iw, &value) in src.iter().enumerate().take(w_hi).skip(w_lo) {
                    let at = row + s[2] * iw + c - p[2];
                    // SAFETY: `at` is input element (n, channel, z, y, x) with x < w, inside
                    // `dx`; it lies in exactly one phase image at exactly one position, so
                    // exactly one task writes it.
                    unsafe { *out.get().add(at) = value };
                }
            }
        }
    });
    Ok(())
}

/// Weight gradient: `dw = ∂L/∂weight` from the input `x` and `dy = ∂L/∂y`, written into `dw`
/// (its previous contents are ignored).
pub fn conv3d_weight_grad(
    geometry: &Conv3dGeometry,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
) -> Result<(), Conv3dError> {
    check_len("input", x.len(), geometry.input_len())?;
    check_len("output gradient", dy.len(), geometry.output_len())?;
    check_len("weight gradient", dw.len(), geometry.weight_len())?;
    let plan = Plan::new(geometry);
    let phases = plan.pack_phases(x);
    let wide = plan.pack_wide_grad(dy);
    let g = &plan.g;
    let (ci, co, k3) = (g.channels_in(), g.channels_out(), volume(g.kernel()));
    let wq = plan.grid[2];
    let wide_stride = plan.margin + plan.q;
    // Longer tiles than the forward's: here the tile is the GEMM's inner dimension.
    let rows = plan.rows_per_tile(1, plan.wide_rows);
    let tiles = plan.wide_rows.div_ceil(rows);
    let per_tap = co * ci;
    let acc = par::sum_over_tasks(g.batch() * tiles, k3 * per_tap, |acc, task| {
        let (n, tile) = (task / tiles, task % tiles);
        let r0 = tile * rows;
        let j0 = r0 * wq;
        let len = (((r0 + rows).min(plan.wide_rows)) * wq).min(plan.wide_len) - j0;
        let grads = &wide[n * co * wide_stride + plan.margin + j0..];
        let sample =
            &phases[n * plan.phase_count * ci * plan.q..][..plan.phase_count * ci * plan.q];
        for tap in &plan.taps {
            let rhs = &sample[tap.phase * ci * plan.q + j0 + tap.shift..];
            debug_assert!((ci - 1) * plan.q + len <= rhs.len());
            debug_assert!((co - 1) * wide_stride + len <= grads.len());
            // SAFETY: dst is acc[tap·co·ci..][..co·ci] (unit column stride, row stride ci),
            // owned by this task's range; lhs reads grads[o·stride + c] for o < co, c < len
            // (inside this sample's wide gradient, j0 + len ≤ wide_len ≤ q); rhs reads
            // rhs[c + i·q] for i < ci, c < len (inside the sample's phases, as in the forward).
            unsafe {
                gemm_f32(
                    [co, ci, len],
                    acc.as_mut_ptr().add(tap.index * per_tap),
                    ci,
                    true,
                    grads.as_ptr(),
                    [wide_stride, 1],
                    rhs.as_ptr(),
                    [1, plan.q],
                )
            }
        }
    });
    for o in 0..co {
        for i in 0..ci {
            for t in 0..k3 {
                dw[(o * ci + i) * k3 + t] = acc[t * per_tap + o * ci + i];
            }
        }
    }
    Ok(())
}

/// Bias gradient: `db[c] = Σ dy[·, c, ·, ·, ·]`, written into `db`. Sums in f64, channels in
/// parallel.
pub fn conv3d_bias_grad(
    geometry: &Conv3dGeometry,
    dy: &[f32],
    db: &mut [f32],
) -> Result<(), Conv3dError> {
    check_len("output gradient", dy.len(), geometry.output_len())?;
    check_len("bias gradient", db.len(), geometry.channels_out())?;
    let co = geometry.channels_out();
    let plane = volume(geometry.output());
    par::for_each_chunk_mut(db, 1, |c, out| {
        let total: f64 = (0..geometry.batch())
            .map(|n| {
                dy[(n * co + c) * plane..][..plane]
                    .iter()
                    .map(|&v| f64::from(v))
                    .sum::<f64>()
            })
            .sum();
        out[0] = total as f32;
    });
    Ok(())
}
