//! The shape of one convolution, checked once.

use crate::Conv3dError;

/// The geometry of one 3-D convolution: dilation 1, one group, the same zero padding on both
/// sides of each axis. All buffers are contiguous, row-major, NCDHW (what Burn and its flex
/// backend use):
///
/// | buffer | shape |
/// |---|---|
/// | input `x` | `[batch, channels_in, d, h, w]` |
/// | weight | `[channels_out, channels_in, kd, kh, kw]` |
/// | bias | `[channels_out]` |
/// | output `y` | `[batch, channels_out, od, oh, ow]`, `o = (i + 2·padding − kernel) / stride + 1` |
///
/// Build it with [`Conv3dGeometry::new`], which rejects what the kernels cannot compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv3dGeometry {
    batch: usize,
    channels_in: usize,
    channels_out: usize,
    input: [usize; 3],
    kernel: [usize; 3],
    stride: [usize; 3],
    padding: [usize; 3],
    output: [usize; 3],
}

impl Conv3dGeometry {
    /// Checks a convolution's sizes: every size but the padding at least 1, the kernel no larger
    /// than the padded input, and every buffer's element count representable.
    ///
    /// Spatial triples are `[depth, height, width]`.
    pub fn new(
        batch: usize,
        channels_in: usize,
        channels_out: usize,
        input: [usize; 3],
        kernel: [usize; 3],
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> Result<Self, Conv3dError> {
        let nonzero = [
            (batch, "batch size"),
            (channels_in, "input channel count"),
            (channels_out, "output channel count"),
        ];
        for (value, what) in nonzero {
            if value == 0 {
                return Err(Conv3dError::Zero { what });
            }
        }
        let mut output = [0; 3];
        for axis in 0..3 {
            if input[axis] == 0 {
                return Err(Conv3dError::Zero {
                    what: "input extent",
                });
            }
            if kernel[axis] == 0 {
                return Err(Conv3dError::Zero {
                    what: "kernel extent",
                });
            }
            if stride[axis] == 0 {
                return Err(Conv3dError::Zero { what: "stride" });
            }
            let padded = padding[axis]
                .checked_mul(2)
                .and_then(|p| p.checked_add(input[axis]))
                .ok_or(Conv3dError::TooLarge("padded input"))?;
            if kernel[axis] > padded {
                return Err(Conv3dError::KernelLargerThanInput {
                    axis,
                    kernel: kernel[axis],
                    padded,
                });
            }
            output[axis] = (padded - kernel[axis]) / stride[axis] + 1;
        }
        let geometry = Self {
            batch,
            channels_in,
            channels_out,
            input,
            kernel,
            stride,
            padding,
            output,
        };
        // Every length the kernels compute must be representable, the phase buffers included
        // (at most the padded input rounded up to whole strides).
        let padded_volume = (0..3).try_fold(1usize, |acc, axis| {
            let extent = (input[axis] + 2 * padding[axis]).div_ceil(stride[axis]) * stride[axis];
            acc.checked_mul(extent + stride[axis] * kernel[axis])
        });
        let counts = [
            (count(&[batch, channels_in], input), "input"),
            (count(&[batch, channels_out], output), "output"),
            (count(&[channels_out, channels_in], kernel), "weight"),
            (
                padded_volume.and_then(|v| v.checked_mul(batch.checked_mul(channels_in)?)),
                "padded input",
            ),
            (
                padded_volume.and_then(|v| v.checked_mul(batch.checked_mul(channels_out)?)),
                "padded output gradient",
            ),
        ];
        for (n, what) in counts {
            if n.is_none_or(|n| n > isize::MAX as usize / 4) {
                return Err(Conv3dError::TooLarge(what));
            }
        }
        Ok(geometry)
    }

    /// Batch size.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Input channels.
    pub fn channels_in(&self) -> usize {
        self.channels_in
    }

    /// Output channels.
    pub fn channels_out(&self) -> usize {
        self.channels_out
    }

    /// Input extent `[d, h, w]`.
    pub fn input(&self) -> [usize; 3] {
        self.input
    }

    /// Kernel extent `[kd, kh, kw]`.
    pub fn kernel(&self) -> [usize; 3] {
        self.kernel
    }

    /// Stride per axis.
    pub fn stride(&self) -> [usize; 3] {
        self.stride
    }

    /// Zero padding per axis (the same on both sides).
    pub fn padding(&self) -> [usize; 3] {
        self.padding
    }

    /// Output extent `[od, oh, ow]`.
    pub fn output(&self) -> [usize; 3] {
        self.output
    }

    /// Elements of the input buffer, `batch · channels_in · d · h · w`.
    pub fn input_len(&self) -> usize {
        self.batch * self.channels_in * volume(self.input)
    }

    /// Elements of the output buffer, `batch · channels_out · od · oh · ow`.
    pub fn output_len(&self) -> usize {
        self.batch * self.channels_out * volume(self.output)
    }

    /// Elements of the weight buffer, `channels_out · channels_in · kd · kh · kw`.
    pub fn weight_len(&self) -> usize {
        self.channels_out * self.channels_in * volume(self.kernel)
    }

    /// Multiply-adds of one forward pass (the same for each gradient).
    pub fn multiply_adds(&self) -> u64 {
        self.output_len() as u64 * (self.channels_in * volume(self.kernel)) as u64
    }
}

/// Product of the three extents.
pub(crate) fn volume(extent: [usize; 3]) -> usize {
    extent[0] * extent[1] * extent[2]
}

fn count(leading: &[usize], extent: [usize; 3]) -> Option<usize> {
    leading
        .iter()
        .chain(extent.iter())
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
}
