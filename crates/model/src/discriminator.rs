//! The style discriminator of BBDM.

use adamm_conv3d::FastConv3d;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::PaddingConfig3d;
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor};

/// Configuration of a [`StyleDiscriminator`].
#[derive(Config, Debug)]
pub struct StyleDiscriminatorConfig {
    /// Channels of the style maps it judges (the bottleneck width: 128 for the paper network).
    pub channels: usize,
    /// Width of the first layer; the next two double it. Default: 64.
    #[config(default = 64)]
    pub base_width: usize,
    /// Negative slope of the leaky ReLUs. Default: 0.2.
    #[config(default = 0.2)]
    pub slope: f64,
}

/// Three 4×4×4 stride-2 convolutions (padding 1) with leaky ReLUs, then a 1×1×1 convolution
/// to one logit per remaining position (a patch discriminator). Inputs need every spatial
/// size ≥ 8. Label 0 = teacher ("source"), 1 = student ("target"), as the authors use them.
#[derive(Module, Debug)]
pub struct StyleDiscriminator {
    /// The three strided convolutions.
    pub convs: Vec<Conv3d>,
    /// The final 1×1×1 convolution to one channel.
    pub classify: Conv3d,
    /// Leaky ReLU slope.
    pub slope: f64,
}

impl StyleDiscriminatorConfig {
    /// Builds the discriminator on `device`.
    pub fn init(&self, device: &Device) -> StyleDiscriminator {
        let widths = [
            self.channels,
            self.base_width,
            2 * self.base_width,
            4 * self.base_width,
        ];
        let convs = widths
            .windows(2)
            .map(|w| {
                Conv3dConfig::new([w[0], w[1]], [4, 4, 4])
                    .with_stride([2, 2, 2])
                    .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
                    .init(device)
            })
            .collect();
        StyleDiscriminator {
            convs,
            classify: Conv3dConfig::new([4 * self.base_width, 1], [1, 1, 1]).init(device),
            slope: self.slope,
        }
    }
}

impl StyleDiscriminator {
    /// `[B, C, d, h, w]` → logits `[B, 1, d/8, h/8, w/8]`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let mut h = x;
        for conv in &self.convs {
            h = leaky_relu(conv.fast_forward(h), self.slope);
        }
        self.classify.fast_forward(h)
    }
}
