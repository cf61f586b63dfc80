//! GARM, the graph-based adaptive refinement module at the student's bottleneck.
//!
//! It fuses the combination-specific bottleneck features (from the adapter entry) with the
//! generic ones (from the shared path) in three stages:
//!
//! 0. **Projection.** Each feature map is soft-assigned to `K` learnable anchors: for voxel
//!    `x` and anchor `a_k` with learnable per-channel bandwidth `σ_k = sigmoid(s_k)`, the
//!    residual is `r_k = (x − a_k) / σ_k` and the assignment `softmax_k(−½‖r_k‖²)`. Node `k`
//!    is the assignment-weighted mean residual, L2-normalised per node and then over the whole
//!    graph. The graph is laid out `[B, C, K]`.
//! 1. **Exchange.** The specific graph goes through a node-wise 1×1 convolution, batch norm and
//!    ReLU. The affinity `E = generic_nodesᵀ · specific_nodes` (`[B, K, K]`) is softmaxed
//!    row-wise and used by one shared graph convolution `softmax(E) · nodesᵀ · W` on both graphs.
//! 2. **Refinement.** Nodes are refined by single-head self-attention (query = key = value
//!    projection, then an output projection), first within each graph and then over the union
//!    of both. Attention is restricted to the adjacency: nodes whose cosine similarity exceeds
//!    a threshold (0.8), plus self-loops; in the union the cross-graph blocks use the same
//!    similarity. The refined generic nodes are projected back to voxels through the fused
//!    assignment `w_s ⊙ A_s + w_g ⊙ A_g` (`w = softmax` over the concatenated assignments),
//!    passed through conv–BN–ReLU, added to both inputs, and mixed by a second conv–BN–ReLU
//!    and a 1×1 convolution.

use adamm_conv3d::FastConv3d;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid, softmax};
use burn::tensor::{Device, Tensor};

/// Smallest norm used when L2-normalising (as `torch.nn.functional.normalize`).
const NORM_EPS: f64 = 1e-12;
/// Added to the assignment mass of a node before dividing by it.
const MASS_EPS: f64 = 1e-9;
/// Attention logit given to pairs that are not neighbours.
const MASKED_LOGIT: f64 = -1e9;

/// L2-normalises `x` along `dim` (norms floored at `NORM_EPS`; the floor is applied before
/// the square root so the gradient stays finite at zero).
fn l2_normalize<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let norm = x
        .clone()
        .square()
        .sum_dim(dim)
        .clamp_min(NORM_EPS * NORM_EPS)
        .sqrt();
    x / norm
}

/// Configuration of a [`GraphProjection`].
#[derive(Config, Debug)]
pub struct GraphProjectionConfig {
    /// Number of nodes (anchors).
    pub nodes: usize,
    /// Feature channels.
    pub channels: usize,
}

/// Stage 0: soft assignment of voxels to learnable anchors and pooling into graph nodes.
#[derive(Module, Debug)]
pub struct GraphProjection {
    /// Anchors `[K, C]`, initialised uniformly in `[0, 1)`.
    pub anchors: Param<Tensor<2>>,
    /// Bandwidth logits `[K, C]` (the bandwidth is their sigmoid), uniform in `[0, 1)`.
    pub sigma: Param<Tensor<2>>,
}

impl GraphProjectionConfig {
    /// Builds the projection on `device`.
    pub fn init(&self, device: &Device) -> GraphProjection {
        let uniform = Initializer::Uniform { min: 0.0, max: 1.0 };
        GraphProjection {
            anchors: uniform.init([self.nodes, self.channels], device),
            sigma: uniform.init([self.nodes, self.channels], device),
        }
    }
}

impl GraphProjection {
    /// `x: [B, N, C]` (voxels × channels) → (nodes `[B, C, K]`, assignment `[B, K, N]`).
    pub fn forward(&self, x: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
        let [b, _n, c] = x.dims();
        let anchors = self.anchors.val();
        let [k, _] = anchors.dims();
        let sigma = sigmoid(self.sigma.val());
        // Residuals [B, K, N, C].
        let residual = (x.clone().unsqueeze_dim::<4>(1) - anchors.clone().reshape([1, k, 1, c]))
            / sigma.clone().reshape([1, k, 1, c]);
        let logits = residual
            .square()
            .sum_dim(3)
            .squeeze_dim::<3>(3)
            .mul_scalar(-0.5);
        let assign = softmax(logits, 1); // [B, K, N]
                                         // Weighted mean residual, computed as (Σ a x − a_k Σ a) / σ_k / (Σ a + ε).
        let mass = assign.clone().sum_dim(2); // [B, K, 1]
        let weighted = assign.clone().matmul(x); // [B, K, C]
        let nodes = (weighted - anchors.unsqueeze_dim::<3>(0) * mass.clone())
            / sigma.unsqueeze_dim::<3>(0)
            / mass.add_scalar(MASS_EPS);
        let nodes = l2_normalize(nodes, 2);
        let nodes = l2_normalize(nodes.reshape([b, k * c]), 1).reshape([b, k, c]);
        (nodes.swap_dims(1, 2), assign)
    }
}

/// Configuration of a [`NodeConv`].
#[derive(Config, Debug)]
pub struct NodeConvConfig {
    /// Feature channels.
    pub channels: usize,
}

/// Node-wise 1×1 convolution without bias, batch norm and ReLU on a graph `[B, C, K]`.
#[derive(Module, Debug)]
pub struct NodeConv {
    /// The channel mixing (no bias).
    pub linear: Linear,
    /// Batch norm over batch × nodes.
    pub norm: BatchNorm,
}

impl NodeConvConfig {
    /// Builds the layer on `device`.
    pub fn init(&self, device: &Device) -> NodeConv {
        NodeConv {
            linear: LinearConfig::new(self.channels, self.channels)
                .with_bias(false)
                .init(device),
            norm: BatchNormConfig::new(self.channels).init(device),
        }
    }
}

impl NodeConv {
    /// `[B, C, K] → [B, C, K]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let y = self.linear.forward(x.swap_dims(1, 2)).swap_dims(1, 2);
        relu(self.norm.forward(y))
    }
}

/// Configuration of a [`GraphConv`].
#[derive(Config, Debug)]
pub struct GraphConvConfig {
    /// Feature channels (in = out).
    pub channels: usize,
}

/// Graph convolution `softmax_rows(E) · Xᵀ · W` without bias.
#[derive(Module, Debug)]
pub struct GraphConv {
    /// `[C, C]`, uniform in `±1/√C`.
    pub weight: Param<Tensor<2>>,
}

impl GraphConvConfig {
    /// Builds the layer on `device`.
    pub fn init(&self, device: &Device) -> GraphConv {
        let bound = 1.0 / (self.channels as f64).sqrt();
        GraphConv {
            weight: Initializer::Uniform {
                min: -bound,
                max: bound,
            }
            .init([self.channels, self.channels], device),
        }
    }
}

impl GraphConv {
    /// `x: [B, C, K]`, `affinity: [B, K, K]` → `[B, C, K]`.
    pub fn forward(&self, x: Tensor<3>, affinity: Tensor<3>) -> Tensor<3> {
        let support = x
            .swap_dims(1, 2)
            .matmul(self.weight.val().unsqueeze_dim::<3>(0));
        softmax(affinity, 2).matmul(support).swap_dims(1, 2)
    }
}

/// Configuration of a [`NodeAttention`].
#[derive(Config, Debug)]
pub struct NodeAttentionConfig {
    /// Feature channels.
    pub channels: usize,
}

/// Single-head self-attention over graph nodes, restricted to an adjacency. Query, key and
/// value share one projection; an output projection follows.
#[derive(Module, Debug)]
pub struct NodeAttention {
    /// The shared query/key/value projection.
    pub qkv: Linear,
    /// The output projection.
    pub output: Linear,
}

impl NodeAttentionConfig {
    /// Builds the layer on `device`.
    pub fn init(&self, device: &Device) -> NodeAttention {
        NodeAttention {
            qkv: LinearConfig::new(self.channels, self.channels).init(device),
            output: LinearConfig::new(self.channels, self.channels).init(device),
        }
    }
}

impl NodeAttention {
    /// `x: [B, C, K]`, `allowed: [B, K, K]` (1 where node i may attend to node j, 0 elsewhere;
    /// every row must allow at least one node) → `[B, C, K]`.
    pub fn forward(&self, x: Tensor<3>, allowed: Tensor<3>) -> Tensor<3> {
        let [_, c, _] = x.dims();
        let q = self.qkv.forward(x.swap_dims(1, 2)); // [B, K, C]
        let scores = q
            .clone()
            .matmul(q.clone().swap_dims(1, 2))
            .div_scalar((c as f64).sqrt());
        let scores = scores.mask_fill(allowed.lower_elem(0.5), MASKED_LOGIT);
        let attended = softmax(scores, 2).matmul(q);
        self.output.forward(attended).swap_dims(1, 2)
    }
}

/// Configuration of a [`ConvNormRelu`].
#[derive(Config, Debug)]
pub struct ConvNormReluConfig {
    /// Channels in and out.
    pub channels: usize,
}

/// 1×1×1 convolution without bias, batch norm and ReLU.
#[derive(Module, Debug)]
pub struct ConvNormRelu {
    /// The convolution.
    pub conv: Conv3d,
    /// The batch norm.
    pub norm: BatchNorm,
}

impl ConvNormReluConfig {
    /// Builds the layer on `device`.
    pub fn init(&self, device: &Device) -> ConvNormRelu {
        ConvNormRelu {
            conv: Conv3dConfig::new([self.channels, self.channels], [1, 1, 1])
                .with_bias(false)
                .init(device),
            norm: BatchNormConfig::new(self.channels).init(device),
        }
    }
}

impl ConvNormRelu {
    /// `[B, C, D, H, W] → [B, C, D, H, W]`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        relu(self.norm.forward(self.conv.fast_forward(x)))
    }
}

/// Configuration of [`Garm`].
#[derive(Config, Debug)]
pub struct GarmConfig {
    /// Channels of the bottleneck features.
    pub channels: usize,
    /// Nodes per graph. Default: 8.
    #[config(default = 8)]
    pub nodes: usize,
    /// Cosine similarity above which nodes are neighbours. Default: 0.8.
    #[config(default = 0.8)]
    pub threshold: f64,
}

/// The graph-based adaptive refinement module (see the module docs).
#[derive(Module, Debug)]
pub struct Garm {
    /// Stage 0 for the combination-specific features.
    pub specific_projection: GraphProjection,
    /// Stage 0 for the generic features.
    pub generic_projection: GraphProjection,
    /// Stage 1: node-wise conv–BN–ReLU on the specific graph.
    pub specific_conv: NodeConv,
    /// Stage 1: the graph convolution shared by both graphs.
    pub exchange: GraphConv,
    /// Stage 2: node self-attention (shared by the three attention passes).
    pub attention: NodeAttention,
    /// Stage 2: conv–BN–ReLU on the reprojected nodes.
    pub reproject: ConvNormRelu,
    /// Stage 2: conv–BN–ReLU after the residual sum.
    pub merge: ConvNormRelu,
    /// Stage 2: the final 1×1×1 convolution (with bias).
    pub output: Conv3d,
    /// Similarity threshold of the adjacency.
    pub threshold: f64,
}

impl GarmConfig {
    /// Builds the module on `device`.
    pub fn init(&self, device: &Device) -> Garm {
        let c = self.channels;
        let projection = GraphProjectionConfig::new(self.nodes, c);
        Garm {
            specific_projection: projection.init(device),
            generic_projection: projection.init(device),
            specific_conv: NodeConvConfig::new(c).init(device),
            exchange: GraphConvConfig::new(c).init(device),
            attention: NodeAttentionConfig::new(c).init(device),
            reproject: ConvNormReluConfig::new(c).init(device),
            merge: ConvNormReluConfig::new(c).init(device),
            output: Conv3dConfig::new([c, c], [1, 1, 1]).init(device),
            threshold: self.threshold,
        }
    }
}

impl Garm {
    /// Refines the generic bottleneck features with the combination-specific ones.
    /// Both `[B, C, D, H, W]`; returns the same shape.
    pub fn forward(&self, specific: Tensor<5>, generic: Tensor<5>) -> Tensor<5> {
        let [b, c, d, h, w] = generic.dims();
        let voxels = |x: Tensor<5>| x.reshape([b, c, d * h * w]).swap_dims(1, 2);

        // Stage 0.
        let (generic_nodes, generic_assign) =
            self.generic_projection.forward(voxels(generic.clone()));
        let (specific_nodes, specific_assign) =
            self.specific_projection.forward(voxels(specific.clone()));
        let k = generic_assign.dims()[1];

        // Stage 1.
        let specific_nodes = self.specific_conv.forward(specific_nodes);
        let affinity = generic_nodes
            .clone()
            .swap_dims(1, 2)
            .matmul(specific_nodes.clone());
        let generic_nodes = self.exchange.forward(generic_nodes, affinity.clone());
        let specific_nodes = self.exchange.forward(specific_nodes, affinity);

        // Stage 2: adjacency from the cosine similarity (rows: specific, columns: generic).
        let similarity = l2_normalize(specific_nodes.clone(), 1)
            .swap_dims(1, 2)
            .matmul(l2_normalize(generic_nodes.clone(), 1));
        let device = similarity.device();
        let cross = similarity.greater_elem(self.threshold).float(); // [B, K, K]
        let symmetric = (cross.clone() + cross.clone().swap_dims(1, 2)).div_scalar(2.0);
        let eye = Tensor::<2>::eye(k, &device)
            .unsqueeze_dim::<3>(0)
            .expand([b, k, k]);
        let within = (symmetric.clone() + eye).clamp(0.0, 1.0);

        let specific_nodes = self.attention.forward(specific_nodes, within.clone());
        let generic_nodes = self.attention.forward(generic_nodes, within.clone());
        let union = Tensor::cat(vec![specific_nodes, generic_nodes], 2); // [B, C, 2K]
        let union_allowed = Tensor::cat(
            vec![
                Tensor::cat(vec![within.clone(), cross.clone()], 2),
                Tensor::cat(vec![cross.swap_dims(1, 2), within], 2),
            ],
            1,
        );
        let union = self.attention.forward(union, union_allowed);
        let generic_part = union.slice([0..b, 0..c, k..2 * k]);

        // Reprojection through the fused assignment.
        let weights = softmax(
            Tensor::cat(vec![specific_assign.clone(), generic_assign.clone()], 1),
            1,
        );
        let fused = weights.clone().slice([0..b, 0..k]) * specific_assign
            + weights.slice([0..b, k..2 * k]) * generic_assign;
        let projected = generic_part.matmul(fused).reshape([b, c, d, h, w]);
        let projected = self.reproject.forward(projected);
        let merged = self.merge.forward(generic + projected + specific);
        self.output.fast_forward(merged)
    }
}
