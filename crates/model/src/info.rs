//! Parameter counts and FLOPs of a configuration, for `adamm model-info` and the docs.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};

use crate::config::AdammConfig;
use crate::error::Result;

/// The authors' released network (`AdaMMKD`, `init_channels = 16`), counted from their code.
pub mod authors {
    /// All parameters of one network (teacher or student).
    pub const TOTAL: usize = 7_101_885;
    /// The residual U-Net (encoder, bottleneck fusion, decoder, head).
    pub const BACKBONE: usize = 4_778_212;
    /// Entries in the adapter bank: all 16 codes but `1111`, so `0000` is one of them.
    pub const BANK_ENTRIES: usize = 15;
    /// Parameters of one adapter entry.
    pub const ENTRY: usize = 134_288;
    /// Their GARM (`AdaptiveGraphEnhanceModule`) as registered.
    pub const GARM: usize = 302_342;
    /// Of which never reached by their forward pass (`region_conv1/2`, `e2r`, `mdf.conv`,
    /// `mdf.gcn`).
    pub const GARM_UNUSED: usize = 182_406;
    /// The presence (classification) head.
    pub const PRESENCE: usize = 7_011;
}

/// Counts the trainable parameters of a module: Burn's `num_params` also counts batch-norm
/// running statistics, which PyTorch keeps as buffers, not parameters.
pub fn trainable_params<M: Module>(module: &M) -> usize {
    struct Counter {
        path: Vec<String>,
        count: usize,
    }
    impl ModuleVisitor for Counter {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let buffer = matches!(
                self.path.last().map(String::as_str),
                Some("running_mean" | "running_var")
            );
            if !buffer {
                self.count += param.lazy_shape().num_elements();
            }
        }
    }
    let mut counter = Counter {
        path: Vec::new(),
        count: 0,
    };
    module.visit(&mut counter);
    counter.count
}

/// Parameter counts of a student network by part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterBreakdown {
    /// The residual U-Net.
    pub backbone: usize,
    /// Number of adapter entries.
    pub bank_entries: usize,
    /// Parameters of one entry.
    pub entry: usize,
    /// The whole bank.
    pub bank: usize,
    /// GARM.
    pub garm: usize,
    /// The presence head.
    pub presence: usize,
    /// Everything (the student; a teacher is `backbone + presence`).
    pub total: usize,
}

impl ParameterBreakdown {
    /// Counts the trainable parameters of a student built for `config` (parameters are
    /// created lazily: no memory is spent on their values).
    pub fn of(config: &AdammConfig, device: &Device) -> Result<ParameterBreakdown> {
        let student = config.init_student(device)?;
        let entry = student.bank.entries.first().map_or(0, trainable_params);
        Ok(ParameterBreakdown {
            backbone: trainable_params(&student.backbone),
            bank_entries: student.bank.entries.len(),
            entry,
            bank: trainable_params(&student.bank),
            garm: trainable_params(&student.garm),
            presence: trainable_params(&student.presence),
            total: trainable_params(&student),
        })
    }

    /// Parameters a teacher has (backbone and presence head).
    pub fn teacher(&self) -> usize {
        self.backbone + self.presence
    }
}

/// Floating-point operations of one forward pass (2 per multiply–accumulate of the
/// convolutions, linear layers and matrix products; normalisations and activations are not
/// counted, as in the usual counters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flops {
    /// With all four modalities (plain path).
    pub full: f64,
    /// With a partial combination (adapters, second fusion and GARM added).
    pub partial: f64,
}

/// FLOPs of one forward pass of a student for `config` on a window of `window` voxels
/// (sizes multiples of `2^(depth−1)`).
pub fn forward_flops(config: &AdammConfig, window: [usize; 3]) -> Flops {
    let n = config;
    let voxels0 = window.iter().map(|&s| s as f64).product::<f64>();
    let v = |l: usize| voxels0 / 8f64.powi(l as i32);
    let c = |l: usize| n.width(l) as f64;
    let conv3 = |vox: f64, i: f64, o: f64| vox * i * o * 27.0;
    let conv1 = |vox: f64, i: f64, o: f64| vox * i * o;
    let deep = n.depth - 1;
    let mut mac = conv3(v(0), n.in_channels as f64, c(0));
    for l in 0..n.depth {
        if l > 0 {
            mac += conv3(v(l), c(l - 1), c(l));
        }
        mac += n.blocks_per_level[l] as f64 * 2.0 * conv3(v(l), c(l), c(l));
    }
    let fusion = conv1(v(deep), n.style_in_channels() as f64, c(deep))
        + conv1(v(deep), 2.0 * c(deep), c(deep));
    mac += fusion;
    for s in 0..n.depth - 1 {
        let to = n.depth - 2 - s;
        mac += conv1(v(to + 1), c(to + 1), c(to)) + 2.0 * conv3(v(to), c(to), c(to));
    }
    mac += conv1(v(0), c(0), n.num_classes as f64);
    mac += conv3(v(0), c(0), c(0)) + conv1(v(0), c(0), n.tumour_classes() as f64);
    let full = 2.0 * mac;

    let h = n.adapter_hidden as f64;
    let adapter = |vox: f64, ch: f64| 2.0 * vox * ch * h;
    let mut extra = fusion;
    for l in 1..n.depth {
        extra += adapter(v(l), c(l));
    }
    extra += adapter(v(deep), c(deep));
    for s in 0..n.depth - 1 {
        extra += adapter(v(n.depth - 2 - s), c(n.depth - 2 - s));
    }
    // GARM: two projections (assignment-weighted sums), reprojection, three 1×1 convolutions.
    let k = n.graph_nodes as f64;
    let nb = v(deep);
    let cb = c(deep);
    extra += 2.0 * k * nb * cb + k * nb * cb + 3.0 * nb * cb * cb;
    Flops {
        full,
        partial: full + 2.0 * extra,
    }
}
