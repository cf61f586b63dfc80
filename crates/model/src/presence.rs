//! The presence head of LGRM: does the patch contain NETC, SNFH, ET?

use adamm_conv3d::FastConv3d;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv3d;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

use crate::layers::{conv1, conv3};

/// Configuration of a [`PresenceHead`].
#[derive(Config, Debug)]
pub struct PresenceHeadConfig {
    /// Channels of the decoder features it reads (the base width).
    pub channels: usize,
    /// Tumour classes to predict. Default: 3 (NETC, SNFH, ET).
    #[config(default = 3)]
    pub classes: usize,
}

/// `conv3³ → batch norm → ReLU → conv1³ → global average pool → sigmoid`, on the last decoder
/// features (after the last skip connection, before the last block).
#[derive(Module, Debug)]
pub struct PresenceHead {
    /// 3×3×3 convolution `C → C`.
    pub conv: Conv3d,
    /// Batch norm.
    pub norm: BatchNorm,
    /// 1×1×1 convolution `C → classes`.
    pub classify: Conv3d,
}

impl PresenceHeadConfig {
    /// Builds the head on `device`.
    pub fn init(&self, device: &Device) -> PresenceHead {
        PresenceHead {
            conv: conv3(self.channels, self.channels, 1).init(device),
            norm: BatchNormConfig::new(self.channels).init(device),
            classify: conv1(self.channels, self.classes).init(device),
        }
    }
}

impl PresenceHead {
    /// `[B, C, D, H, W]` → presence logits `[B, classes]` (before the sigmoid).
    pub fn logits(&self, x: Tensor<5>) -> Tensor<2> {
        let h = relu(self.norm.forward(self.conv.fast_forward(x)));
        let logits = self.classify.fast_forward(h); // [B, classes, D, H, W]
        let [b, k, d, hh, w] = logits.dims();
        logits
            .reshape([b, k, d * hh * w])
            .mean_dim(2)
            .reshape([b, k])
    }

    /// `[B, C, D, H, W]` → presence probabilities `[B, classes]`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<2> {
        sigmoid(self.logits(x))
    }
}
