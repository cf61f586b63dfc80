//! The direct tap-sum kernel: a register-blocked AVX-512 loop that computes a block of output
//! vectors × output channels over *all* taps and input channels before it stores anything.
//!
//! Both the forward pass and the input gradient are, tile by tile, the same sum
//!
//! `out[o, p] = Σ_tap Σ_c in[c · channel_stride + offset(tap) + p] · w[tap, c, o]`
//!
//! over a flat input (the phase images, or the wide output gradient) with one constant offset
//! per tap. The per-tap GEMM formulation (`kernel.rs`) streams the output tile through memory
//! once per tap; here three 16-lane vectors × 8 output channels stay in 24 `zmm` registers for
//! the whole reduction: per (tap, channel), three unaligned loads of the input, eight
//! broadcasts of the packed weights and 24 fused multiply-adds. The weights are packed once
//! per call into `[channel block][tap][c][8]` so that the broadcasts read consecutive memory.
//!
//! The vectors are [`Slot`]s: up to 16 consecutive positions anywhere in the input, stored
//! anywhere in the output. The forward uses this to compute only the output's own positions
//! (row by row, no padding columns) and to write them straight into the output tensor.
//!
//! Used on x86-64 CPUs with AVX-512F (detected at run time) when the output channels are a
//! multiple of 8; elsewhere the GEMM formulation runs. Measured on the 2-core development
//! machine (AMD EPYC, one 512-bit FMA per cycle per core) the loop runs at about 90 % of the
//! core's FMA peak.

/// Output channels per register block.
pub(crate) const BLOCK_CHANNELS: usize = 8;
/// Vectors per register block.
const VECTORS: usize = 3;
/// Lanes per vector.
pub(crate) const LANES: usize = 16;
/// Input channels per pass over a tile: their input rows stay in cache while every block of
/// output channels reads them.
const CHUNK_CHANNELS: usize = 16;

/// Whether the direct kernel runs here for `channels_out` output channels.
pub(crate) fn available(channels_out: usize) -> bool {
    channels_out.is_multiple_of(BLOCK_CHANNELS) && cpu_has_avx512()
}

#[cfg(target_arch = "x86_64")]
fn cpu_has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has_avx512() -> bool {
    false
}

/// Packs weights given by `w(tap, c, o)` into `[o / 8][tap][c][o % 8]` (blocks in parallel).
pub(crate) fn pack_weights(
    taps: usize,
    channels: usize,
    outputs: usize,
    w: impl Fn(usize, usize, usize) -> f32 + Send + Sync,
) -> Vec<f32> {
    let per_block = taps * channels * BLOCK_CHANNELS;
    let mut packed = vec![0.0f32; outputs / BLOCK_CHANNELS * per_block];
    crate::par::for_each_chunk_mut(&mut packed, per_block, |block, dst| {
        let mut values = dst.iter_mut();
        for tap in 0..taps {
            for c in 0..channels {
                for o in 0..BLOCK_CHANNELS {
                    if let Some(v) = values.next() {
                        *v = w(tap, c, block * BLOCK_CHANNELS + o);
                    }
                }
            }
        }
    });
    packed
}

/// Up to [`LANES`] consecutive positions: read from `input` position `input`, written to output
/// index `output` (of output channel 0; channel `o` is `o · out_stride` further).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    /// Position in the input (before the tap offset).
    pub input: usize,
    /// Index in the output buffer.
    pub output: usize,
    /// Positions in the slot, 1 to [`LANES`].
    pub lanes: usize,
}

/// Slots covering the consecutive positions `0..positions` (input and output alike).
pub(crate) fn contiguous_slots(positions: usize) -> Vec<Slot> {
    (0..positions)
        .step_by(LANES)
        .map(|p| Slot {
            input: p,
            output: p,
            lanes: LANES.min(positions - p),
        })
        .collect()
}

/// One tap-sum over a tile.
pub(crate) struct TapSum<'a> {
    /// The flat input; position `p` of channel `c` at tap `t` is
    /// `input[c · channel_stride + offsets[t] + p]`.
    pub input: &'a [f32],
    /// Distance between consecutive input channels.
    pub channel_stride: usize,
    /// Input channels summed over.
    pub channels: usize,
    /// One offset per tap (may be negative, as long as every read stays in `input`).
    pub offsets: &'a [isize],
    /// Weights from [`pack_weights`] with `offsets.len()` taps and `channels` channels.
    pub weights: &'a [f32],
}

impl TapSum<'_> {
    /// Output channels (blocks of 8 in the packed weights).
    fn blocks(&self) -> usize {
        let per_block = self.offsets.len() * self.channels * BLOCK_CHANNELS;
        assert!(per_block > 0 && self.weights.len().is_multiple_of(per_block));
        self.weights.len() / per_block
    }

    /// Panics unless every read of every slot lies inside the input.
    fn check_reads(&self, slots: &[Slot]) {
        let lo = self.offsets.iter().copied().min().unwrap_or(0);
        let hi = self.offsets.iter().copied().max().unwrap_or(0);
        let span = (self.channels - 1) * self.channel_stride;
        for slot in slots {
            assert!(
                slot.lanes >= 1 && slot.lanes <= LANES,
                "slot of {} lanes",
                slot.lanes
            );
            assert!(slot.input as isize + lo >= 0, "tap offset before the input");
            let last = slot.input as isize + hi + (span + slot.lanes - 1) as isize;
            assert!(
                (last as usize) < self.input.len(),
                "tap reads past the input"
            );
        }
    }

    /// Writes `out[o · out_stride + p]` for the positions `p < positions` and every output
    /// channel `o` of the packed weights. Panics (before reading anything) if an index would
    /// fall outside its slice.
    pub(crate) fn run(&self, positions: usize, out: &mut [f32], out_stride: usize) {
        let blocks = self.blocks();
        if positions == 0 {
            return;
        }
        assert!((blocks * BLOCK_CHANNELS - 1) * out_stride + positions <= out.len());
        // SAFETY: the slots' outputs are o·out_stride + p for p < positions, inside `out`
        // (checked above), which this call borrows exclusively.
        unsafe {
            self.run_slots(
                &contiguous_slots(positions),
                out.as_mut_ptr(),
                out_stride,
                None,
            )
        }
    }

    /// Writes `out[slot.output + o · out_stride + i] = bias[o] + Σ …` for every slot, lane
    /// `i < slot.lanes` and output channel `o`. Panics (before reading anything) if a read would
    /// fall outside the input or the weights.
    ///
    /// # Safety
    /// Every `out + slot.output + o · out_stride + i` must be valid for writes and written by
    /// no one else during the call.
    pub(crate) unsafe fn run_slots(
        &self,
        slots: &[Slot],
        out: *mut f32,
        out_stride: usize,
        bias: Option<&[f32]>,
    ) {
        let blocks = self.blocks();
        self.check_reads(slots);
        if let Some(bias) = bias {
            assert_eq!(bias.len(), blocks * BLOCK_CHANNELS);
        }
        #[cfg(target_arch = "x86_64")]
        {
            assert!(cpu_has_avx512(), "the direct kernel needs AVX-512F");
            let per_block = self.offsets.len() * self.channels * BLOCK_CHANNELS;
            // Input channels in chunks whose input rows stay in cache while every block of
            // output channels reads them; the partial sums go through `out`.
            for c0 in (0..self.channels).step_by(CHUNK_CHANNELS) {
                let chunk = CHUNK_CHANNELS.min(self.channels - c0);
                let input = c0 * self.channel_stride;
                for group in slots.chunks(VECTORS) {
                    let mut vectors = [avx512::Vector::EMPTY; VECTORS];
                    for (v, slot) in vectors.iter_mut().zip(group) {
                        *v = avx512::Vector {
                            input: input + slot.input,
                            output: slot.output,
                            lanes: slot.lanes,
                        };
                    }
                    for block in 0..blocks {
                        let init = match (c0, bias) {
                            (0, Some(bias)) => avx512::Init::Bias(&bias[block * BLOCK_CHANNELS..]),
                            (0, None) => avx512::Init::Zero,
                            _ => avx512::Init::Accumulate,
                        };
                        // SAFETY: AVX-512F is present (asserted). Input reads are at
                        // slot.input + offset + c·stride + i for c < channels, i < lanes,
                        // inside the input (checked above); lanes past a slot's are masked
                        // off and not read, and empty vectors are neither read nor written.
                        // Weight reads are block·per_block + t·channels·8 + (c0 + c)·8 + o,
                        // inside the block's weights. Output reads and writes are the
                        // caller's; the first chunk writes before any later chunk reads.
                        unsafe {
                            avx512::block(
                                avx512::Operands {
                                    input: self.input.as_ptr(),
                                    stride: self.channel_stride,
                                    offsets: self.offsets,
                                    channels: chunk,
                                    weights: self
                                        .weights
                                        .as_ptr()
                                        .add(block * per_block + c0 * BLOCK_CHANNELS),
                                    tap_stride: self.channels * BLOCK_CHANNELS,
                                    out: out.add(block * BLOCK_CHANNELS * out_stride),
                                    out_stride,
                                },
                                &vectors,
                                init,
                            );
                        }
                    }
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (out, out_stride, blocks);
            unreachable!("the direct kernel is only selected on x86-64 (see `available`)");
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{BLOCK_CHANNELS, LANES, VECTORS};

    /// One vector of a block: input position, output index, valid lanes (0: unused).
    #[derive(Clone, Copy)]
    pub(super) struct Vector {
        pub input: usize,
        pub output: usize,
        pub lanes: usize,
    }

    impl Vector {
        pub const EMPTY: Vector = Vector {
            input: 0,
            output: 0,
            lanes: 0,
        };
    }

    /// How a block's accumulators start.
    pub(super) enum Init<'a> {
        Zero,
        /// From the output (a later chunk of input channels).
        Accumulate,
        /// At `bias[o]` for output channel `o`.
        Bias(&'a [f32]),
    }

    /// The pointers and strides of one block.
    pub(super) struct Operands<'a> {
        pub input: *const f32,
        pub stride: usize,
        pub offsets: &'a [isize],
        pub channels: usize,
        pub weights: *const f32,
        pub tap_stride: usize,
        pub out: *mut f32,
        pub out_stride: usize,
    }

    /// The lane mask of `lanes` valid lanes.
    fn mask(lanes: usize) -> __mmask16 {
        ((1u32 << lanes.min(LANES)) - 1) as __mmask16
    }

    /// One block of 3 vectors × 8 output channels: for each vector `v` and lane `i < lanes`,
    /// `out[v.output + o · out_stride + i] (init)= Σ_t Σ_c input[v.input + offsets[t] + c · stride
    /// + i] · weights[t · tap_stride + c · 8 + o]`.
    ///
    /// # Safety
    /// AVX-512F must be available; every such input and weight element must be readable and
    /// every such output element readable and writable, for `c < channels`, `o < 8`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn block(op: Operands<'_>, vectors: &[Vector; VECTORS], init: Init<'_>) {
        let Operands {
            input,
            stride,
            offsets,
            channels,
            weights,
            tap_stride,
            out,
            out_stride,
        } = op;
        let masks: [__mmask16; VECTORS] = std::array::from_fn(|v| mask(vectors[v].lanes));
        let mut acc = [[_mm512_setzero_ps(); VECTORS]; BLOCK_CHANNELS];
        match init {
            Init::Zero => {}
            Init::Bias(bias) => {
                for (row, &b) in acc.iter_mut().zip(bias) {
                    *row = [_mm512_set1_ps(b); VECTORS];
                }
            }
            Init::Accumulate => {
                for (o, row) in acc.iter_mut().enumerate() {
                    for (v, a) in row.iter_mut().enumerate() {
                        let at = vectors[v].output + o * out_stride;
                        // SAFETY: inside the output as the caller guarantees; masked lanes
                        // (all of them for an empty vector) are not read.
                        *a = unsafe { _mm512_maskz_loadu_ps(masks[v], out.wrapping_add(at)) };
                    }
                }
            }
        }
        for (t, &offset) in offsets.iter().enumerate() {
            // SAFETY (all pointer arithmetic and loads below): within the ranges the caller
            // guarantees; masked lanes are not read, so an empty vector reads nothing.
            let mut x: [*const f32; VECTORS] =
                std::array::from_fn(|v| input.wrapping_offset(vectors[v].input as isize + offset));
            let mut w = weights.wrapping_add(t * tap_stride);
            for _ in 0..channels {
                let xs: [__m512; VECTORS] =
                    std::array::from_fn(|v| unsafe { _mm512_maskz_loadu_ps(masks[v], x[v]) });
                for (o, row) in acc.iter_mut().enumerate() {
                    let b = _mm512_set1_ps(unsafe { *w.add(o) });
                    for (a, &xv) in row.iter_mut().zip(&xs) {
                        *a = _mm512_fmadd_ps(xv, b, *a);
                    }
                }
                w = w.wrapping_add(BLOCK_CHANNELS);
                for p in &mut x {
                    *p = p.wrapping_add(stride);
                }
            }
        }
        for (o, row) in acc.iter().enumerate() {
            for (v, &a) in row.iter().enumerate() {
                let at = vectors[v].output + o * out_stride;
                // SAFETY: inside the output as the caller guarantees; masked lanes are not
                // written.
                unsafe { _mm512_mask_storeu_ps(out.wrapping_add(at), masks[v], a) };
            }
        }
    }
}
