//! Brain extraction ("skull stripping"): [`StripNet`], a small 3-D residual U-Net that gives one
//! brain logit per voxel, trained only on synthetic heads of random contrast (in the manner of
//! SynthStrip, Hoopes et al. 2022, and MindGrab) by `adamm train-strip`.
//!
//! The network runs on a 2 mm RAS grid of the head generator's size (96 × 112 × 96): see
//! [`crate::strip_input`] for how a scan gets there and how the mask gets back.
//!
//! Layout (defaults): a 3×3×3 stem `1 → 8`, then per level one pre-activation
//! [`ResBlock`] and a stride-2 3×3×3 convolution to the next level (widths 8, 16, 32, 32:
//! doubling, capped at [`StripNetConfig::max_width`]); one block at the bottleneck; each
//! decoder stage halves back with a 1×1×1 convolution, upsamples ×2 (nearest), adds the skip
//! and runs one block; a 1×1×1 head gives the logit. 248,273 parameters: a 0.5 MB file in
//! half precision ([`crate::Precision::F16`]).
//!
//! Files are saved through [`crate::store`] as kind `stripper` ([`crate::STRIPPER_KIND`])
//! with the configuration and the working grid recorded ([`StripNet::save`],
//! [`StripNet::load_any`]); a tumour model given as a stripper is refused with
//! [`ModelError::NotAStripper`], a stripper given as a tumour model with
//! [`ModelError::BrainExtractionModel`].

use adamm_conv3d::FastConv3d;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv3d;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use crate::error::{ModelError, Result};
use crate::layers::{conv1, conv3, upsample_nearest2, ResBlock, ResBlockConfig};

/// Configuration of a [`StripNet`].
#[derive(Config, Debug, PartialEq)]
pub struct StripNetConfig {
    /// Input channels (one image). Default: 1.
    #[config(default = 1)]
    pub in_channels: usize,
    /// Channels at full resolution. Default: 8.
    #[config(default = 8)]
    pub base_width: usize,
    /// Resolution levels, counting the full one (3 or 4; the input sizes must be multiples of
    /// `2^(levels − 1)`, [`StripNet::forward`] pads otherwise). Default: 4.
    #[config(default = 4)]
    pub levels: usize,
    /// Largest channel count (the width doubles per level up to it). Default: 32.
    #[config(default = 32)]
    pub max_width: usize,
    /// GroupNorm groups in every block (must divide every width). Default: 4.
    #[config(default = 4)]
    pub groups: usize,
}

impl StripNetConfig {
    /// Channels at level `l` (0 = full resolution).
    pub fn width(&self, level: usize) -> usize {
        (self.base_width << level.min(16)).min(self.max_width.max(self.base_width))
    }

    /// The factor every input size is padded to: `2^(levels − 1)`.
    pub fn size_multiple(&self) -> usize {
        1 << self.levels.saturating_sub(1).min(16)
    }

    /// Checks that the configuration builds a network.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.in_channels == 0 || self.base_width == 0 || self.groups == 0 {
            return bad("in_channels, base_width and groups must be positive".into());
        }
        if !(2..=6).contains(&self.levels) {
            return bad(format!("levels must be 2 to 6, not {}", self.levels));
        }
        for l in 0..self.levels {
            if !self.width(l).is_multiple_of(self.groups) {
                return bad(format!(
                    "{} GroupNorm groups do not divide the {} channels of level {l}",
                    self.groups,
                    self.width(l)
                ));
            }
        }
        Ok(())
    }

    /// Builds the network on `device` (validating the configuration).
    pub fn init(&self, device: &Device) -> Result<StripNet> {
        self.validate()?;
        let block = |l: usize| {
            ResBlockConfig::new(self.width(l))
                .with_groups(self.groups)
                .init(device)
        };
        let deepest = self.levels - 1;
        Ok(StripNet {
            stem: conv3(self.in_channels, self.width(0), 1).init(device),
            encoder: (0..deepest).map(block).collect(),
            down: (0..deepest)
                .map(|l| conv3(self.width(l), self.width(l + 1), 2).init(device))
                .collect(),
            bottleneck: block(deepest),
            reduce: (0..deepest)
                .map(|l| conv1(self.width(l + 1), self.width(l)).init(device))
                .collect(),
            decoder: (0..deepest).map(block).collect(),
            head: conv1(self.width(0), 1).init(device),
            config: self.clone(),
        })
    }
}

/// The brain-extraction network: `[B, 1, D, H, W]` image → `[B, 1, D, H, W]` brain logits.
#[derive(Module, Debug)]
pub struct StripNet {
    /// 3×3×3 convolution from the input to `base_width` channels.
    pub stem: Conv3d,
    /// One block per encoder level (all but the deepest), full resolution first.
    pub encoder: Vec<ResBlock>,
    /// Stride-2 convolutions from level `l` to `l + 1`.
    pub down: Vec<Conv3d>,
    /// The block at the deepest level.
    pub bottleneck: ResBlock,
    /// 1×1×1 convolutions from level `l + 1`'s width to level `l`'s, before upsampling.
    pub reduce: Vec<Conv3d>,
    /// One block per decoder stage, indexed by the level it runs at.
    pub decoder: Vec<ResBlock>,
    /// 1×1×1 convolution to the brain logit.
    pub head: Conv3d,
    /// The configuration it was built from.
    #[module(skip)]
    pub config: StripNetConfig,
}

impl StripNet {
    /// Brain logits `[B, 1, D, H, W]` for images `[B, in_channels, D, H, W]` of any size:
    /// sizes that are not multiples of [`StripNetConfig::size_multiple`] are zero-padded at
    /// the far end and the logits cropped back.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let [b, c, d, h, w] = x.dims();
        let m = self.config.size_multiple();
        let padded = [d, h, w].map(|s| s.div_ceil(m).max(1) * m);
        let needs_pad = padded != [d, h, w];
        let x = if needs_pad {
            let device = x.device();
            Tensor::<5>::zeros([b, c, padded[0], padded[1], padded[2]], &device)
                .slice_assign([0..b, 0..c, 0..d, 0..h, 0..w], x)
        } else {
            x
        };
        let mut h_ = self.stem.fast_forward(x);
        let mut skips = Vec::with_capacity(self.encoder.len());
        for (block, down) in self.encoder.iter().zip(&self.down) {
            h_ = block.forward(h_);
            skips.push(h_.clone());
            h_ = down.fast_forward(h_);
        }
        h_ = self.bottleneck.forward(h_);
        for l in (0..self.decoder.len()).rev() {
            let up = upsample_nearest2(self.reduce[l].fast_forward(h_));
            h_ = self.decoder[l].forward(up + skips[l].clone());
        }
        let logits = self.head.fast_forward(h_);
        if needs_pad {
            logits.slice([0..b, 0..1, 0..d, 0..h, 0..w])
        } else {
            logits
        }
    }

    /// The brain probability (sigmoid of [`StripNet::forward`]), `[B, 1, D, H, W]`.
    pub fn brain_probability(&self, x: Tensor<5>) -> Tensor<5> {
        sigmoid(self.forward(x))
    }

    /// Runs the network on one image `data` (x fastest) of `dims = [nx, ny, nz]` on `device`
    /// and returns the brain probability per voxel, in the same order.
    pub fn probability_map(
        &self,
        data: &[f32],
        dims: [usize; 3],
        device: &Device,
    ) -> Result<Vec<f32>> {
        let [nx, ny, nz] = dims;
        if data.len() != nx * ny * nz || self.config.in_channels != 1 {
            return Err(ModelError::InvalidInput(format!(
                "{} voxels for a {nx}×{ny}×{nz} grid and a network of {} input channels \
                 (one image of the grid's size needed)",
                data.len(),
                self.config.in_channels
            )));
        }
        let x = Tensor::<5>::from_data(
            burn::tensor::TensorData::new(data.to_vec(), [1, 1, nz, ny, nx]),
            device,
        );
        self.brain_probability(x)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| ModelError::Readback(format!("{e:?}")))
    }

    /// Trainable parameters.
    pub fn parameters(&self) -> usize {
        self.num_params()
    }
}
