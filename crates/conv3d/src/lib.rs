//! A fast f32 3-D convolution for the CPU — forward, input gradient, weight gradient and bias
//! gradient — and its wiring into Burn's `flex` backend without forking Burn.
//!
//! # The kernels (always available)
//!
//! [`conv3d_forward`], [`conv3d_input_grad`], [`conv3d_weight_grad`] and [`conv3d_bias_grad`]
//! work on plain NCDHW `f32` slices described by a [`Conv3dGeometry`] (any kernel size and
//! stride, symmetric zero padding, dilation 1, one group, batch ≥ 1). They never build an im2col
//! matrix: the input is copied once into stride phases, after which every kernel tap reads a
//! shifted view of them. On x86-64 with AVX-512F (detected at run time) and output channels in
//! multiples of 8, the forward and the input gradient run a direct kernel that keeps
//! 48 positions × 8 output channels in registers over all taps and input channels (about 90 %
//! of the FMA peak of the machine it was tuned on) and writes the output's own positions
//! straight into the output; otherwise, and for the weight gradient, each tap is one GEMM (the
//! `gemm` crate, AVX-512/AVX2/SIMD128 as the machine offers) on a strided view, tile by tile.
//! Rayon-parallel natively, single-threaded in wasm. See the `kernel` and `direct` modules'
//! source documentation for the formulations.
//!
//! # The Burn wiring (feature `burn`; `autodiff` for training)
//!
//! [`conv3d`] takes and returns `burn::Tensor`s like `burn::tensor::module::conv3d` and gives
//! the same values. On the flex device, for f32 tensors and a configuration the kernels cover,
//! it runs this crate's kernels; everywhere else (another device, another dtype, dilation,
//! groups, asymmetric padding) it calls Burn's own conv3d — one decision, in [`conv3d`]
//! ([`uses_fast_path`] tells which way a call goes). [`FastConv3d::fast_forward`] is Burn's
//! `Conv3d` layer on [`conv3d`]; [`set_enabled`] switches the kernels off process-wide (Burn's
//! conv3d everywhere), to compare the two on a whole model.
//!
//! How the hook works in Burn 0.22.1 (read from the sources of `burn-backend-extension`,
//! `burn-dispatch`, `burn-tensor`, `burn-autodiff` and `burn-flex`, all 0.22.1):
//!
//! 1. Burn's `extension` feature (`burn/Cargo.toml` → `burn-core/extension` →
//!    `burn-tensor/extension` + `burn-backend-extension`) exports `burn::backend`
//!    (`burn-core/src/backend.rs`): the `#[backend_extension]` attribute, the `Dispatch`
//!    backend, `DispatchTensor`, the concrete backends (`burn::backend::Flex`, and with
//!    `autodiff` `burn::backend::Autodiff` and the `burn::backend::autodiff` crate).
//! 2. `#[backend_extension(Flex, Autodiff)]` on a trait `Conv3dOps: Backend`
//!    (`burn-backend-extension/src/extension.rs`, `routing.rs`) re-emits the trait and generates
//!    `impl Conv3dOps for burn::backend::Dispatch`. Each generated method reads the backend tag of
//!    one routing tensor (the first float input), merges the autodiff contexts of all tensor
//!    inputs (`DispatchAutodiffContext`), and calls `<Flex as Conv3dOps>` when autodiff is off, or
//!    `<Autodiff<Flex, C> as Conv3dOps>` when it is on, `C` being `BalancedCheckpointing` or
//!    `NoCheckpointing` as the tensors' strategy says; it then re-wraps the output as a
//!    `DispatchTensor`. A backend not listed reaches `unimplemented!` — which is why [`conv3d`]
//!    checks the device before calling it. The macro accepts owned `FloatTensor<Self>` inputs but
//!    not `Option<FloatTensor<Self>>`, so the trait has one method with and one without bias.
//! 3. `Tensor::into_dispatch` / `Tensor::from_dispatch` (`burn-tensor/src/tensor/api/extension.rs`)
//!    move between `burn::Tensor<D>` and the dispatch primitive.
//! 4. The flex primitive is `burn_flex::FlexTensor` (`burn-flex/src/tensor.rs`): `Arc`-shared
//!    bytes plus a strided `Layout`; `as_slice::<f32>()` borrows the data when contiguous
//!    (else `to_contiguous()` copies it), and a result is built with
//!    `FlexTensor::from_data(TensorData::new(vec, shape))` without a copy. Flex's own conv3d
//!    (`burn-flex/src/ops/conv.rs`) works in NCDHW; its backward passes are Burn's defaults
//!    (`burn-backend/src/backend/ops/modules/conv.rs`: a transposed convolution and an
//!    im2col-style weight gradient).
//! 5. Autodiff is a handwritten `impl<C: CheckpointStrategy> Conv3dOps for Autodiff<Flex, C>`
//!    mirroring Burn's own `conv3d` in `burn-autodiff/src/ops/module.rs`: a zero-sized type
//!    implementing `burn::backend::autodiff::ops::Backward<Flex, N>`, prepared with the inputs'
//!    `node()` guards, `.compute_bound().stateful()`; when tracked, `checkpoint` the inputs and
//!    `finish(state, output)`; in `backward`, `grads.consume::<Flex>(&ops.node)` gives the output
//!    gradient, `checkpointer.retrieve_node_output` the inputs, and `grads.register::<Flex>` takes
//!    the gradient of each parent that requires one.
//!
//! # Speed
//!
//! Measured on the 2-core development machine (AMD EPYC with AVX-512 and one 512-bit FMA per
//! cycle per core: 117 GFLOP/s per core in a register-only FMA loop), median ms, batch 1,
//! 3×3×3, stride 1, padding 1, with bias. This crate and Burn's flex on the same inputs in one
//! run: `cargo bench -p adamm-conv3d --bench conv3d -- --sample-size 10`; PyTorch 2.15 on two
//! threads, NCDHW (channels-last in parentheses): `benches/pytorch_conv3d.py`. Backward = the
//! input, weight and bias gradients from one output gradient.
//!
//! | layer | forward | Burn flex | PyTorch | backward | Burn flex | PyTorch |
//! |---|---:|---:|---:|---:|---:|---:|
//! | 16→16, 128³ | 247 | 821 | 262 (178) | 566 | 4045 | 558 (315) |
//! | 32→32, 64³ | 95 | 211 | 99 (76) | 259 | 909 | 196 (146) |
//! | 64→64, 32³ | 35 | 61 | 40 (31) | 95 | 241 | 70 (64) |
//! | 128→128, 16³ | 17.4 | 25.5 | 14.7 (14.6) | 54 | 80 | 31 (30) |
//!
//! The 128→128 forward runs at about 89 % of the machine's FMA peak. The PyTorch figures in the
//! project's older environment notes (181, 59, 23, 6.7 ms) came from a faster host: 6.7 ms for
//! the 128→128 layer is 540 GFLOP/s, more than twice this machine's peak.

// The direct kernel runs on x86-64 only; elsewhere its helpers are compiled but unused.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
mod direct;
mod error;
mod geometry;
mod kernel;
mod par;

#[cfg(feature = "burn")]
mod burn_ext;
#[cfg(feature = "burn")]
mod layer;

pub use error::Conv3dError;
pub use geometry::Conv3dGeometry;
pub use kernel::{conv3d_bias_grad, conv3d_forward, conv3d_input_grad, conv3d_weight_grad};

#[cfg(feature = "burn")]
pub use burn_ext::{conv3d, geometry_of, uses_fast_path, Conv3dOps};
#[cfg(feature = "burn")]
pub use layer::{enabled, set_enabled, FastConv3d};
