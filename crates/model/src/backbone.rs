//! The 3-D residual U-Net shared by teacher and student.

use adamm_conv3d::FastConv3d;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv3d;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use crate::bank::AdapterEntry;
use crate::config::AdammConfig;
use crate::garm::Garm;
use crate::layers::{conv1, conv3, max_pool2, upsample_nearest2, ResBlock, ResBlockConfig};
use crate::presence::PresenceHead;

/// Configuration of a [`Backbone`].
#[derive(Config, Debug)]
pub struct BackboneConfig {
    /// The network configuration.
    pub network: AdammConfig,
}

/// One encoder level: an optional stride-2 downsampling convolution, then residual blocks.
#[derive(Module, Debug)]
pub struct EncoderLevel {
    /// 3×3×3 stride-2 convolution from the previous level's width (absent at level 0).
    pub down: Option<Conv3d>,
    /// The level's residual blocks.
    pub blocks: Vec<ResBlock>,
}

/// One decoder stage: 1×1×1 convolution halving the channels, nearest ×2 upsampling,
/// additive skip connection, one residual block.
#[derive(Module, Debug)]
pub struct DecoderStage {
    /// 1×1×1 `2C → C`.
    pub reduce: Conv3d,
    /// The stage's residual block.
    pub block: ResBlock,
}

/// Encoder, bottleneck fusion, decoder and segmentation head.
#[derive(Module, Debug)]
pub struct Backbone {
    /// 3×3×3 `in_channels → base_width`.
    pub stem: Conv3d,
    /// Encoder levels, full resolution first.
    pub levels: Vec<EncoderLevel>,
    /// Style: 1×1×1 over [pooled level depth−2 input, deepest input, deepest output].
    pub fuse_style: Conv3d,
    /// Fusion of style and content (the deepest output): 1×1×1 `2C → C`.
    pub fuse_content: Conv3d,
    /// Dropout after the fusion.
    pub dropout: Dropout,
    /// Decoder stages, deepest first.
    pub decoder: Vec<DecoderStage>,
    /// 1×1×1 `base_width → num_classes`, followed by a sigmoid.
    pub head: Conv3d,
}

impl BackboneConfig {
    /// Builds the backbone on `device`.
    pub fn init(&self, device: &Device) -> Backbone {
        let n = &self.network;
        let block = |c: usize| {
            ResBlockConfig::new(c)
                .with_groups(n.norm_groups)
                .init(device)
        };
        let levels = (0..n.depth)
            .map(|l| EncoderLevel {
                down: (l > 0).then(|| conv3(n.width(l - 1), n.width(l), 2).init(device)),
                blocks: (0..n.blocks_per_level[l])
                    .map(|_| block(n.width(l)))
                    .collect(),
            })
            .collect();
        let decoder = (0..n.depth - 1)
            .map(|s| {
                let to = n.depth - 2 - s;
                DecoderStage {
                    reduce: conv1(n.width(to + 1), n.width(to)).init(device),
                    block: block(n.width(to)),
                }
            })
            .collect();
        Backbone {
            stem: conv3(n.in_channels, n.base_width, 1).init(device),
            levels,
            fuse_style: conv1(n.style_in_channels(), n.bottleneck_width()).init(device),
            fuse_content: conv1(2 * n.bottleneck_width(), n.bottleneck_width()).init(device),
            dropout: DropoutConfig::new(n.dropout).init(),
            decoder,
            head: conv1(n.base_width, n.num_classes).init(device),
        }
    }
}

/// Everything one forward pass produces.
#[derive(Debug, Clone)]
pub struct NetOutput {
    /// Sigmoid probabilities `[B, num_classes, D, H, W]` (NETC, SNFH, ET, background).
    pub probabilities: Tensor<5>,
    /// The logits before the sigmoid.
    pub logits: Tensor<5>,
    /// Presence probabilities of the tumour classes `[B, num_classes − 1]`.
    pub presence: Tensor<2>,
    /// The presence logits (before the sigmoid), for a numerically safe BCE.
    pub presence_logits: Tensor<2>,
    /// The shared path's style map at the bottleneck `[B, C, d, h, w]`.
    pub style: Tensor<5>,
    /// The shared path's content (deepest encoder output) `[B, C, d, h, w]`.
    pub content: Tensor<5>,
    /// The bottleneck maps used by the cross-Gram loss: deepest input, style, deepest output.
    pub global: [Tensor<5>; 3],
}

/// The student-only parts used by a partial combination.
#[derive(Clone, Copy)]
pub(crate) struct Adaptation<'a> {
    pub entry: &'a AdapterEntry,
    pub garm: &'a Garm,
}

fn run_blocks(blocks: &[ResBlock], mut x: Tensor<5>) -> Tensor<5> {
    for b in blocks {
        x = b.forward(x);
    }
    x
}

impl Backbone {
    /// The forward pass; `adapt` is `Some` for a student with a partial combination.
    pub(crate) fn forward_with(
        &self,
        x: Tensor<5>,
        adapt: Option<Adaptation<'_>>,
        presence_head: &PresenceHead,
    ) -> NetOutput {
        let depth = self.levels.len();
        // Encoder. `inputs[l]` is the (unadapted) downsampled input of level l, `adapted[l]`
        // the adapted one; `skips[l]` the output of level l.
        let mut skips: Vec<Tensor<5>> = Vec::with_capacity(depth);
        let mut inputs: Vec<Option<Tensor<5>>> = vec![None; depth];
        let mut adapted: Vec<Option<Tensor<5>>> = vec![None; depth];
        let mut h = run_blocks(&self.levels[0].blocks, self.stem.fast_forward(x));
        for (l, level) in self.levels.iter().enumerate().skip(1) {
            let prev = skips.len();
            skips.push(h);
            let down = level
                .down
                .as_ref()
                .map(|c| c.fast_forward(skips[prev].clone()))
                .unwrap_or_else(|| skips[prev].clone());
            let into = match adapt {
                Some(a) => {
                    let ad = a.entry.encoder[l - 1].forward(down.clone());
                    adapted[l] = Some(ad.clone());
                    ad
                }
                None => down.clone(),
            };
            inputs[l] = Some(down);
            h = run_blocks(&level.blocks, into);
        }
        let deep = h;
        let take = |v: &[Option<Tensor<5>>], l: usize| v[l].clone().expect("level input recorded");

        // Bottleneck: style and content of the shared path.
        let deep_in = take(&inputs, depth - 1);
        let style = self.fuse_style.fast_forward(Tensor::cat(
            vec![
                max_pool2(take(&inputs, depth - 2)),
                deep_in.clone(),
                deep.clone(),
            ],
            1,
        ));
        let content = deep.clone();
        let mut fused = self.dropout.forward(
            self.fuse_content
                .fast_forward(Tensor::cat(vec![style.clone(), content.clone()], 1)),
        );
        if let Some(a) = adapt {
            let deep_ad = a.entry.encoder[depth - 1].forward(deep.clone());
            let style_ad = a.entry.fuse_style.fast_forward(Tensor::cat(
                vec![
                    max_pool2(take(&adapted, depth - 2)),
                    take(&adapted, depth - 1),
                    deep_ad.clone(),
                ],
                1,
            ));
            let fused_ad = self.dropout.forward(
                a.entry
                    .fuse_content
                    .fast_forward(Tensor::cat(vec![style_ad, deep_ad], 1)),
            );
            fused = a.garm.forward(fused_ad, fused);
        }

        // Decoder.
        let mut u = fused;
        let mut presence = None;
        let stages = self.decoder.len();
        for (s, stage) in self.decoder.iter().enumerate() {
            let to = depth - 2 - s;
            u = upsample_nearest2(stage.reduce.fast_forward(u));
            if s + 1 < stages {
                u = stage.block.forward(u + skips[to].clone());
                if let Some(a) = adapt {
                    u = a.entry.decoder[s].forward(u);
                }
            } else {
                if let Some(a) = adapt {
                    u = a.entry.decoder[s].forward(u);
                }
                u = u + skips[to].clone();
                presence = Some(presence_head.logits(u.clone()));
                u = stage.block.forward(u);
            }
        }
        let logits = self.head.fast_forward(u);
        let presence_logits = presence.expect("the decoder has at least one stage");
        NetOutput {
            probabilities: sigmoid(logits.clone()),
            logits,
            presence: sigmoid(presence_logits.clone()),
            presence_logits,
            global: [deep_in, style.clone(), deep],
            style,
            content,
        }
    }
}
