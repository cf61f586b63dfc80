//! The network configuration and its two presets.

use burn::config::Config;

use crate::error::{ModelError, Result};

/// Most resolution levels a configuration may ask for.
pub const MAX_DEPTH: usize = 8;

/// Largest network (parameters, estimated from the configuration) that
/// [`AdammConfig::validate`] accepts: about 40 times the paper network, so that a model file's
/// configuration cannot make building the network allocate without bound.
pub const MAX_PARAMETERS: u128 = 200_000_000;

/// Configuration of an AdaMM network: the backbone, the adapter bank, GARM and the presence
/// head. Teacher and student share it; the teacher simply has no adapter bank or GARM.
///
/// Use [`AdammConfig::paper`] (the authors' network) or [`AdammConfig::light`] (CPU and
/// browser friendly), or build one with `AdammConfig::new()` and the `with_*` setters; call
/// [`AdammConfig::validate`] before building by hand (the `init` functions validate too).
#[derive(Config, Debug, PartialEq)]
pub struct AdammConfig {
    /// Input channels, one per modality in `Modality::ALL` order. Default: 4.
    #[config(default = 4)]
    pub in_channels: usize,
    /// Output channels: NETC, SNFH, ET, background (each a sigmoid). Default: 4.
    #[config(default = 4)]
    pub num_classes: usize,
    /// Channels of the first level; level `l` has `base_width · 2^l`. Default: 16 (paper).
    #[config(default = 16)]
    pub base_width: usize,
    /// Number of resolution levels (the input is halved `depth − 1` times). Default: 4.
    #[config(default = 4)]
    pub depth: usize,
    /// Residual blocks per encoder level, `depth` entries. Default: `[1, 2, 2, 4]` (paper).
    #[config(default = "vec![1, 2, 2, 4]")]
    pub blocks_per_level: Vec<usize>,
    /// Groups of every GroupNorm; must divide `base_width`. Default: 8.
    #[config(default = 8)]
    pub norm_groups: usize,
    /// Dropout probability at the bottleneck and in the adapters. Default: 0.2.
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Hidden width of every adapter (`C → hidden → C`). Default: 64.
    #[config(default = 64)]
    pub adapter_hidden: usize,
    /// Number of graph nodes (anchors) per graph in GARM. Default: 8.
    #[config(default = 8)]
    pub graph_nodes: usize,
    /// Cosine similarity above which two GARM nodes are neighbours. Default: 0.8.
    #[config(default = 0.8)]
    pub graph_threshold: f64,
    /// Keep an adapter entry for the code `0000`, as the authors' bank does (it enumerates all
    /// 16 codes but `1111`). No input can select it; it only keeps the parameter count and
    /// weight layout equal to theirs. Default: `true` (paper); the light preset drops it.
    #[config(default = true)]
    pub empty_code_entry: bool,
    /// The network works on the case's grid coarsened by this factor along each axis:
    /// [`crate::Pipeline::prepare`] averages `f³` voxel blocks before the network and
    /// interpolates the probabilities back to the case's grid
    /// (`adamm_volume::resample`). 1 = full resolution (paper); 2 on 1 mm BraTS data means
    /// 2 mm. Training must use the same factor. Default: 1; the light preset uses 2.
    #[config(default = 1)]
    pub grid_factor: usize,
}

impl AdammConfig {
    /// The authors' network: base width 16, four levels, 1/2/2/4 blocks, adapter hidden
    /// width 64, GARM with 8 nodes, 15 adapter entries (14 reachable + `0000`).
    pub fn paper() -> AdammConfig {
        AdammConfig::new()
    }

    /// A light network for CPU training and browser inference: base width 8 (8/16/32/64
    /// channels), one block per level but two at the bottleneck, adapter hidden width 16,
    /// 8 graph nodes, no `0000` entry, working at half resolution (`grid_factor` 2). About 16× fewer FLOPs than the paper network; see
    /// the crate docs for the measured speed.
    pub fn light() -> AdammConfig {
        AdammConfig::new()
            .with_base_width(8)
            .with_blocks_per_level(vec![1, 1, 1, 2])
            .with_adapter_hidden(16)
            .with_empty_code_entry(false)
            .with_grid_factor(2)
    }

    /// A preset by name: `paper` or `light`.
    pub fn preset(name: &str) -> Result<AdammConfig> {
        match name {
            "paper" => Ok(AdammConfig::paper()),
            "light" => Ok(AdammConfig::light()),
            other => Err(ModelError::InvalidConfig(format!(
                "unknown preset {other:?}; the presets are \"paper\" and \"light\""
            ))),
        }
    }

    /// Checks that the numbers can build a network.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(ModelError::InvalidConfig(m));
        if self.in_channels == 0 || self.num_classes < 2 {
            return fail(format!(
                "need at least one input channel and two classes, got {} and {}",
                self.in_channels, self.num_classes
            ));
        }
        if self.depth < 3 {
            return fail(format!(
                "depth must be at least 3 (the style fuses level depth−2), got {}",
                self.depth
            ));
        }
        if self.blocks_per_level.len() != self.depth {
            return fail(format!(
                "blocks_per_level has {} entries but depth is {}",
                self.blocks_per_level.len(),
                self.depth
            ));
        }
        if self.blocks_per_level.contains(&0) {
            return fail("every level needs at least one block".into());
        }
        if self.norm_groups == 0
            || self.base_width == 0
            || !self.base_width.is_multiple_of(self.norm_groups)
        {
            return fail(format!(
                "norm_groups ({}) must divide base_width ({})",
                self.norm_groups, self.base_width
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return fail(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        if !(1..=4).contains(&self.grid_factor) {
            return fail(format!(
                "grid_factor must be 1 to 4, got {}",
                self.grid_factor
            ));
        }
        if self.adapter_hidden == 0 || self.graph_nodes == 0 {
            return fail("adapter_hidden and graph_nodes must be positive".into());
        }
        // A configuration read from a file must not make `init` allocate without bound: the
        // backbone's 3×3×3 convolutions dominate the parameter count.
        if self.depth > MAX_DEPTH {
            return fail(format!(
                "depth {} is more than {MAX_DEPTH} levels",
                self.depth
            ));
        }
        let convs: u128 = (0..self.depth)
            .map(|l| {
                let w = (self.base_width as u128) << l;
                let blocks = self.blocks_per_level[l] as u128;
                // Encoder blocks (two convolutions each) plus the decoder's at most two.
                (2 * blocks + 2) * 27 * w * w
            })
            .sum();
        let adapters =
            (2 * (self.adapter_hidden as u128) * (self.base_width as u128)) << self.depth;
        let estimate = convs + 16 * adapters + (self.graph_nodes as u128).pow(2);
        if estimate > MAX_PARAMETERS {
            return fail(format!(
                "the configuration describes a network of about {estimate} parameters, more \
                 than the {MAX_PARAMETERS} this crate builds"
            ));
        }
        Ok(())
    }

    /// Channels at level `l` (0 = full resolution).
    pub fn width(&self, level: usize) -> usize {
        self.base_width << level
    }

    /// Channels at the bottleneck (deepest level).
    pub fn bottleneck_width(&self) -> usize {
        self.width(self.depth - 1)
    }

    /// Channels entering the style convolution: the pooled level `depth − 2` input plus the
    /// deepest level's input and output (320 for the paper network).
    pub fn style_in_channels(&self) -> usize {
        self.width(self.depth - 2) + 2 * self.bottleneck_width()
    }

    /// Every spatial size given to the network must be a multiple of this (`2^(depth−1)`).
    pub fn size_multiple(&self) -> usize {
        1 << (self.depth - 1)
    }

    /// Number of tumour classes the presence head predicts (all but background).
    pub fn tumour_classes(&self) -> usize {
        self.num_classes - 1
    }
}
