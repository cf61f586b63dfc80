//! Building blocks: the pre-activation residual block, the adapter, and the 3-D operations
//! Burn 0.22 lacks (nearest ×2 upsampling and 2×2×2 max pooling).

use adamm_conv3d::FastConv3d;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{Dropout, DropoutConfig, GroupNorm, GroupNormConfig, PaddingConfig3d};
use burn::tensor::activation::{gelu, relu};
use burn::tensor::{Device, Tensor};

/// A 3×3×3 convolution with padding 1 (stride 1 or 2) and bias.
pub(crate) fn conv3(in_c: usize, out_c: usize, stride: usize) -> Conv3dConfig {
    Conv3dConfig::new([in_c, out_c], [3, 3, 3])
        .with_stride([stride; 3])
        .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
}

/// A 1×1×1 convolution with bias.
pub(crate) fn conv1(in_c: usize, out_c: usize) -> Conv3dConfig {
    Conv3dConfig::new([in_c, out_c], [1, 1, 1])
}

/// Configuration of a [`ResBlock`].
#[derive(Config, Debug)]
pub struct ResBlockConfig {
    /// Channels in and out (the shortcut is the identity).
    pub channels: usize,
    /// GroupNorm groups. Default: 8.
    #[config(default = 8)]
    pub groups: usize,
}

/// Pre-activation residual block: `x + conv(relu(gn(conv(relu(gn(x))))))`, both convolutions
/// 3×3×3 with the channel count unchanged.
#[derive(Module, Debug)]
pub struct ResBlock {
    /// First normalisation.
    pub norm1: GroupNorm,
    /// First convolution.
    pub conv1: Conv3d,
    /// Second normalisation.
    pub norm2: GroupNorm,
    /// Second convolution.
    pub conv2: Conv3d,
}

impl ResBlockConfig {
    /// Builds the block on `device`.
    pub fn init(&self, device: &Device) -> ResBlock {
        let c = self.channels;
        ResBlock {
            norm1: GroupNormConfig::new(self.groups, c).init(device),
            conv1: conv3(c, c, 1).init(device),
            norm2: GroupNormConfig::new(self.groups, c).init(device),
            conv2: conv3(c, c, 1).init(device),
        }
    }
}

impl ResBlock {
    /// `[B, C, D, H, W] → [B, C, D, H, W]`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let h = self.conv1.fast_forward(relu(self.norm1.forward(x.clone())));
        let h = self.conv2.fast_forward(relu(self.norm2.forward(h)));
        h + x
    }
}

/// Configuration of an [`Adapter`].
#[derive(Config, Debug)]
pub struct AdapterConfig {
    /// Channels of the adapted feature map.
    pub channels: usize,
    /// Hidden channels. Default: 64.
    #[config(default = 64)]
    pub hidden: usize,
    /// Dropout on the residual branch. Default: 0.2.
    #[config(default = 0.2)]
    pub dropout: f64,
}

/// Residual bottleneck adapter: `x + dropout(up(gelu(down(x))))` with 1×1×1 convolutions
/// `C → hidden → C`.
#[derive(Module, Debug)]
pub struct Adapter {
    /// `C → hidden`.
    pub down: Conv3d,
    /// `hidden → C`.
    pub up: Conv3d,
    /// Dropout on the branch.
    pub dropout: Dropout,
}

impl AdapterConfig {
    /// Builds the adapter on `device`.
    pub fn init(&self, device: &Device) -> Adapter {
        Adapter {
            down: conv1(self.channels, self.hidden).init(device),
            up: conv1(self.hidden, self.channels).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

impl Adapter {
    /// `[B, C, D, H, W] → [B, C, D, H, W]`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let z = self
            .up
            .fast_forward(gelu(self.down.fast_forward(x.clone())));
        x + self.dropout.forward(z)
    }
}

/// Nearest-neighbour upsampling by 2 along D, H and W (by broadcasting; at most 6-D
/// tensors, the NdArray backend's limit).
pub fn upsample_nearest2(x: Tensor<5>) -> Tensor<5> {
    let [b, c, d, h, w] = x.dims();
    x.reshape([b * c * d, 1, h, 1, w, 1])
        .expand([b * c * d, 2, h, 2, w, 2])
        .reshape([b, c, 2 * d, 2 * h, 2 * w])
}

/// 2×2×2 max pooling with stride 2 (sizes must be even; at most 6-D tensors).
pub fn max_pool2(x: Tensor<5>) -> Tensor<5> {
    let [b, c, d, h, w] = x.dims();
    x.reshape([b * c * (d / 2), 2, h / 2, 2, w / 2, 2])
        .max_dim(5)
        .max_dim(3)
        .max_dim(1)
        .reshape([b, c, d / 2, h / 2, w / 2])
}
