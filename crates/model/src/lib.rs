//! # The AdaMM network in Burn
//!
//! One crate for the browser app and the native trainer: the teacher and student networks of
//! AdaMM ("No Modality Left Behind", Quanato607/AdaMM), their losses, a modality-combination
//! sampler, sliding-window inference and weight files. The code is written from the method's
//! description and the authors' released PyTorch code read as a specification (commit
//! `f2e1733`); none of it is copied.
//!
//! ## The network
//! - **Backbone** ([`Backbone`]): a 3-D residual U-Net. `base_width` channels at full
//!   resolution, doubling at each of `depth` levels (16/32/64/128 in the paper network).
//!   Pre-activation blocks ([`layers::ResBlock`]: GroupNorm(8) → ReLU → conv3³, twice, identity
//!   shortcut), `blocks_per_level` of them per encoder level (1/2/2/4), stride-2 conv3³
//!   downsampling. At the bottleneck a *style* map (conv1³ over the max-pooled input of level
//!   `depth − 2`, the deepest level's input and its output: 320 → 128 channels) is fused with
//!   the *content* (the deepest output) by conv1³ (256 → 128) and dropout 0.2. Each decoder
//!   stage halves the channels (conv1³), upsamples ×2 (nearest), adds the skip and runs one
//!   block; a conv1³ head gives 4 sigmoid channels: NETC, SNFH, ET, background.
//! - **Inputs**: 4 channels in `adamm_volume::brats::Modality::ALL` order (T1, T1Gd, T2,
//!   FLAIR); absent modalities are zeroed ([`mask_modalities`]). The availability code is the
//!   volume crate's (`"1010"` = T1 and T2 present).
//! - **Teacher** ([`Teacher`]): backbone + presence head, always fed all four modalities.
//! - **Student** ([`Student`]): the same plus the **adapter bank** ([`AdapterBank`]) and
//!   **GARM** ([`Garm`]). For a partial code, the code's [`AdapterEntry`] adds residual
//!   adapters (`x + Dropout(0.2)(conv1³(64→C)(GELU(conv1³(C→64)(x))))`) after each
//!   downsampling and on the deepest output, after the first decoder stages and on the
//!   upsampled full-resolution features before the last skip; its own style/content fusion
//!   convolutions build combination-specific bottleneck features, which GARM fuses with the
//!   shared ones. With `1111` the student takes the plain path (bank and GARM unused).
//! - **GARM** (student bottleneck, K = 8 nodes of width 128): soft assignment to learnable
//!   anchors and pooling into normalised graph nodes (stage 0), affinity-driven shared graph
//!   convolution between the two graphs (stage 1), adjacency-restricted self-attention and
//!   reprojection through the fused assignments, added back residually (stage 2). See
//!   [`garm`].
//! - **LGRM**: the presence head ([`PresenceHead`]: conv3³ → batch norm → ReLU → conv1³ → 3,
//!   global average, sigmoid) on the last decoder features; [`loss::weighted_dice`] weights
//!   each class's Dice by `|p − y| + 1`, [`loss::presence_bce`] trains it, and the
//!   teacher–student probability MSE is ramped by `λ(e) = 10·exp(−5(1 − min(e, 20)/20)²)`.
//! - **BBDM**: Gram style matching ([`loss::style_loss`]), cross-Gram matching of the
//!   bottleneck maps ([`loss::cross_gram_loss`]) and a 3-D patch discriminator on the style
//!   maps ([`StyleDiscriminator`], generator term weight 2e-4).
//! - **Total loss** ([`LossConfig::compute`]): `0.4·teacher Dice + 0.6·student Dice +
//!   λ(e)·probability MSE + 0.2·content MSE + 1e-4·style + 100·cross-Gram + presence BCE
//!   (teacher and student) + 2e-4·adversarial`, every weight a [`LossConfig`] field.
//!
//! ## Presets
//! | | `paper` | `light` |
//! |---|---|---|
//! | base width / levels | 16 / 4 | 8 / 4 |
//! | blocks per level | 1, 2, 2, 4 | 1, 1, 1, 2 |
//! | adapter hidden width | 64 | 16 |
//! | adapter entries | 15 (14 + `0000`) | 14 |
//! | GARM nodes × width | 8 × 128 | 8 × 64 |
//! | parameters (student) | 6,919,479 | 1,085,527 |
//! | parameters (teacher) | 4,785,223 | 685,639 |
//! | GFLOP, 128³ window, full / partial | 325.9 / 341.1 | 68.9 / 70.9 |
//!
//! The light preset keeps every part of the method (full adapter bank, GARM, presence head)
//! and cuts the cost where it is spent: the full-resolution convolutions (width 8 instead of
//! 16, so a quarter of the multiply–adds) and the repeated deep blocks. It is meant for
//! 96³ windows in the browser and 64³ training patches on a CPU.
//!
//! ## Parameters against the authors' network
//! Counted as PyTorch counts them (batch-norm running statistics are buffers, not
//! parameters; [`info::trainable_params`]). The authors' `AdaMMKD(init_channels=16)` has
//! 7,101,885.
//!
//! | part | ours (`paper`) | authors |
//! |---|---:|---:|
//! | backbone | 4,778,212 | 4,778,212 |
//! | adapter entry | 134,288 | 134,288 |
//! | adapter bank | 15 × 134,288 = 2,014,320 | 15 × 134,288 |
//! | GARM | 119,936 | 302,342 (182,406 never used) |
//! | presence head | 7,011 | 7,011 |
//! | **total** | **6,919,479** (−2.57 %) | **7,101,885** |
//!
//! The authors' bank has 15 entries because it enumerates all 16 codes except `1111`: the
//! fifteenth is `0000`, which no input can select (`1111` has no entry). The paper preset
//! keeps that entry (`AdammConfig::empty_code_entry`) so the count and layout match theirs;
//! the light preset drops it. The whole difference in the total is GARM's 182,406 registered
//! but unreachable parameters (`region_conv1`, `region_conv2`, the `e2r` mutual module,
//! `mdf.conv`, `mdf.gcn`), which we do not build. A teacher is backbone + presence head:
//! the authors' teacher also instantiates a bank and GARM it never runs.
//!
//! ## Deviations from the released code
//! 1. **GARM node layout.** The authors turn the `[B, K, C]` nodes into `[B, C, K]` with a
//!    `view` (a reshape), which scrambles nodes and channels; we transpose.
//! 2. **GARM adjacency.** The authors compute a thresholded cosine adjacency (and a unified
//!    one over both graphs) and pass it to a graph-attention layer that ignores it; we
//!    restrict attention to it, adding self-loops so every node attends to at least itself.
//!    Their hard-coded split at node 8 is `K`.
//! 3. **Evaluation mode.** The authors evaluate and test with the networks in training mode
//!    (batch statistics in the batch norms, dropout on); inference here
//!    ([`Segmenter`]) uses `Module::valid`: running statistics, no dropout.
//! 4. **Bottleneck adapter input.** The authors feed the fourth encoder adapter `c4` (the
//!    output of the third deep block) instead of the deepest output `c4d`; we adapt `c4d`.
//! 5. **Cross-Gram loss.** The authors pass their concatenated bottleneck tensor where a list
//!    of maps is expected, so the loop runs over the batch and compares each sample's depth
//!    slices with themselves; we compute the intended cross-layer Grams between consecutive
//!    maps (deepest input, style, deepest output, cyclically).
//! 6. **Gram normalisation.** The authors' style Gram mixes the samples of a batch
//!    (`(B·C)²` matrix) and divides by `(D·H)²` (a 2-D formula on 3-D maps); ours is
//!    per sample with `N = D·H·W`, averaged over the batch (identical for batch 1 up to the
//!    `W²` factor).
//! 7. **Discriminator head.** The authors' last kernel (2, 3, 2) only fits the bottleneck of
//!    their 160×192×128 patches; ours is a 1×1×1 convolution giving patch logits, averaged in
//!    the BCE, for any patch whose bottleneck is at least 8³.
//! 8. **Unused layers** (GARM's 182,406 parameters above, the attention layer's dropout and
//!    leaky ReLU, the teacher's bank and GARM) are not built.
//! 9. **Inference gating.** The authors gate each class by the presence head (> 0.5) on the
//!    whole evaluated volume; [`Segmenter`] gates per window (configurable).
//!
//! ## Weights
//! [`Student::save`] / [`Student::load`] (and `to_bytes` / `from_bytes`, the same for
//! [`Teacher`]) write burnpack files whose metadata records the kind and configuration; a file
//! for another network is refused with [`ModelError::WeightsMismatch`] naming the differing
//! fields or the missing tensors. [`Precision::F16`] halves the download for the browser.
//! Student files for inference also record their sliding window ([`WeightsInfo::window`]).
//!
//! ## From scans to labels
//! [`pipeline`] is the one path from a case's scans to its label map on their own grid
//! (read, one grid, preprocess, the working grid, sliding windows, back to native), used by
//! the CLI, the evaluation, the browser worker and the end-to-end test alike.
//!
//! [`checks`] says when the input is not what the model was made for ([`input_warnings`]).
//!
//! ## Brain extraction
//! [`StripNet`] ([`strip`]) is a separate, small residual U-Net (248,273 parameters) that
//! finds the brain in a whole-head scan of any contrast, trained on synthetic heads only
//! (`adamm train-strip`); [`strip_input`] brings a scan to its 2 mm grid and the mask back.
//!
//! ## Backends
//! The code has no backend type parameter (Burn 0.22 chooses the backend at run time from the
//! `Device`): the same calls run on `Device::flex()` (CPU, native and wasm),
//! `Device::ndarray()` (tests and benches), `Device::wgpu(..)` natively with the `wgpu`
//! feature, WebGPU in the browser (`webgpu`, on by default for wasm32) and CUDA with the
//! `cuda` feature. Read results with `into_data_async` on WebGPU in wasm:
//! [`Job::run_async`] (and [`Windows::run_async`]) do.
//!
//! Every convolution goes through `adamm_conv3d::FastConv3d::fast_forward`: on flex (native
//! and wasm) the `adamm-conv3d` kernels run it, forward and, under autodiff, both gradients;
//! any other device runs Burn's own conv3d. On native targets the default `jemalloc` feature
//! lets a binary make jemalloc its global allocator ([`alloc`]; the CLI and the benchmarks do).
//! Measured on the 2-core development machine (`cargo bench -p adamm-model --bench forward --
//! flex`, `cargo bench -p adamm-train`), medians, against flex with Burn's conv3d on the same
//! allocator: the paper forward on a 128³ window 2.29 s (6.21 s) with all four modalities,
//! 3.25 s (7.09 s) with two; the light one 0.73 s (2.89 s); one light training iteration
//! 0.88 s (3.06 s).

#[cfg(all(feature = "jemalloc", not(target_arch = "wasm32")))]
pub mod alloc;
pub mod backbone;
pub mod bank;
pub mod checks;
pub mod config;
pub mod discriminator;
pub mod error;
pub mod garm;
pub mod infer;
pub mod info;
pub mod layers;
pub mod loss;
pub mod network;
pub mod pipeline;
pub mod presence;
pub mod sampler;
pub mod store;
pub mod strip;
pub mod strip_input;

pub use backbone::{Backbone, BackboneConfig, NetOutput};
pub use bank::{AdapterBank, AdapterBankConfig, AdapterEntry, AdapterEntryConfig};
pub use checks::{input_warnings, InputWarning};
pub use config::AdammConfig;
pub use discriminator::{StyleDiscriminator, StyleDiscriminatorConfig};
pub use error::{ModelError, PipelineError, Result};
pub use garm::{Garm, GarmConfig};
pub use infer::{
    probabilities_to_labels, Launched, Progress, Segmentation, SegmentationNetwork, Segmenter,
    SlidingWindowConfig, WindowOutput, Windows, LABEL_THRESHOLD,
};
pub use info::{forward_flops, Flops, ParameterBreakdown};
pub use loss::{LossConfig, LossTerms, Targets};
pub use network::{mask_modalities, Student, Teacher};
pub use pipeline::{
    BrainExtractor, CaseLabels, Job, LoadedStudent, Pipeline, PreparedCase, Scans, StripOutcome,
    Stripping,
};
pub use presence::{PresenceHead, PresenceHeadConfig};
pub use sampler::CombinationSampler;
pub use store::{
    InferenceSettings, Precision, WeightsInfo, LEGACY_LIGHT_WINDOW, LEGACY_NORMALIZATION,
    STRIPPER_KIND,
};
pub use strip::{StripNet, StripNetConfig};
pub use strip_input::{prepare_strip_input, strip_mask, StripGrid, StripInput};

/// Re-export of Burn, so users get the exact version this crate uses.
pub use burn;

/// The CPU device to use by default: flex, the CPU backend that also runs in wasm (see the
/// benchmarks in `benches/forward.rs` for the comparison with ndarray).
pub fn default_cpu_device() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}
