//! The training losses: LGRM (presence-weighted Dice, presence BCE, ramped consistency),
//! BBDM (Gram style matching, cross-Gram matching, adversarial style term) and content
//! matching, combined with the weights of a [`LossConfig`].

use adamm_volume::brats::label;
use burn::config::Config;
use burn::tensor::{Device, Tensor, TensorData};

use crate::backbone::NetOutput;
use crate::discriminator::StyleDiscriminator;
use crate::error::{ModelError, Result};

/// The weights of every loss term.
#[derive(Config, Debug, PartialEq)]
pub struct LossConfig {
    /// Weight of the teacher's (full-modality) Dice. Default: 0.4.
    #[config(default = 0.4)]
    pub teacher_dice: f64,
    /// Weight of the student's (missing-modality) Dice. Default: 0.6.
    #[config(default = 0.6)]
    pub student_dice: f64,
    /// Maximum weight of the teacher–student probability MSE (λ at the end of the ramp).
    /// Default: 10.
    #[config(default = 10.0)]
    pub consistency_max: f64,
    /// Epochs of the consistency ramp-up `λ(e) = max·exp(−5(1 − min(e, R)/R)²)`. Default: 20.
    #[config(default = 20.0)]
    pub consistency_rampup: f64,
    /// Weight of the MSE between the teacher's and the student's bottleneck content.
    /// Default: 0.2.
    #[config(default = 0.2)]
    pub content: f64,
    /// Weight of the Gram style matching of the bottleneck style maps. Default: 1e-4.
    #[config(default = 1e-4)]
    pub style: f64,
    /// Weight of the cross-Gram matching of the bottleneck maps. Default: 100 (the
    /// authors' `10e1`).
    #[config(default = 100.0)]
    pub cross_gram: f64,
    /// Weight of each presence BCE (teacher and student). Default: 1.
    #[config(default = 1.0)]
    pub presence: f64,
    /// Weight of the student's adversarial style term. Default: 2e-4.
    #[config(default = 2e-4)]
    pub adversarial: f64,
    /// Added to the Dice denominator. Default: 1e-7.
    #[config(default = 1e-7)]
    pub dice_epsilon: f64,
}

/// Ground truth for a batch: per-class masks and presence.
#[derive(Debug, Clone)]
pub struct Targets {
    /// One-hot `[B, 4, D, H, W]`: NETC, SNFH, ET, background.
    pub segmentation: Tensor<5>,
    /// Whether NETC, SNFH, ET occur in each patch, `[B, 3]` of 0/1.
    pub presence: Tensor<2>,
}

impl Targets {
    /// Targets from label maps (internal labels 0–3, x fastest, each `dims = [nx, ny, nz]`).
    pub fn from_labels(batch: &[&[u8]], dims: [usize; 3], device: &Device) -> Result<Targets> {
        let n: usize = dims.iter().product();
        if batch.is_empty() {
            return Err(ModelError::InvalidInput("no label map given".into()));
        }
        let classes = [label::NETC, label::SNFH, label::ET, label::BACKGROUND];
        let mut seg = Vec::with_capacity(batch.len() * 4 * n);
        let mut presence = Vec::with_capacity(batch.len() * 3);
        for labels in batch {
            if labels.len() != n {
                return Err(ModelError::InvalidInput(format!(
                    "a label map has {} voxels, dims {:?} need {n}",
                    labels.len(),
                    dims
                )));
            }
            if let Some(bad) = labels.iter().find(|&&l| l > label::ET) {
                return Err(ModelError::InvalidInput(format!(
                    "label {bad} is not an internal label (0–3)"
                )));
            }
            for class in classes {
                seg.extend(labels.iter().map(|&l| f32::from(u8::from(l == class))));
            }
            for class in &classes[..3] {
                presence.push(f32::from(u8::from(labels.contains(class))));
            }
        }
        let b = batch.len();
        let [nx, ny, nz] = dims;
        Ok(Targets {
            segmentation: Tensor::from_data(TensorData::new(seg, [b, 4, nz, ny, nx]), device),
            presence: Tensor::from_data(TensorData::new(presence, [b, 3]), device),
        })
    }
}

/// Soft Dice loss per sample: `1 − 2Σpg / (Σp² + Σg² + ε)` over `[B, N]` → `[B]`.
pub fn soft_dice(pred: Tensor<2>, target: Tensor<2>, epsilon: f64) -> Tensor<1> {
    let inter = (pred.clone() * target.clone()).sum_dim(1);
    let denom = pred.square().sum_dim(1) + target.square().sum_dim(1);
    let dice = inter.mul_scalar(2.0) / denom.add_scalar(epsilon);
    dice.neg().add_scalar(1.0).squeeze_dim::<1>(1)
}

/// LGRM's presence-weighted Dice: for each tumour class `c`, the batch mean of
/// `(|p_c − y_c| + 1) · Dice_c`, summed over the classes (the background channel is not
/// scored).
pub fn weighted_dice(
    probabilities: Tensor<5>,
    segmentation: Tensor<5>,
    presence_pred: Tensor<2>,
    presence_true: Tensor<2>,
    epsilon: f64,
) -> Tensor<1> {
    let [b, _, d, h, w] = probabilities.dims();
    let [_, classes] = presence_pred.dims();
    let weights = (presence_pred - presence_true).abs().add_scalar(1.0); // [B, classes]
    let mut total: Option<Tensor<1>> = None;
    for c in 0..classes {
        let p = probabilities
            .clone()
            .slice([0..b, c..c + 1])
            .reshape([b, d * h * w]);
        let g = segmentation
            .clone()
            .slice([0..b, c..c + 1])
            .reshape([b, d * h * w]);
        let wc = weights.clone().slice([0..b, c..c + 1]).reshape([b]);
        let term = (wc * soft_dice(p, g, epsilon)).mean();
        total = Some(match total {
            Some(t) => t + term,
            None => term,
        });
    }
    total.expect("at least one tumour class")
}

/// Binary cross-entropy of the presence head against the presence targets (0/1), averaged
/// over all elements. It takes the logits: `BCE(sigmoid(z), y)` computed as
/// `max(z, 0) − z·y + log(1 + exp(−|z|))`, which stays finite (value and gradient) where the
/// sigmoid saturates — the probability form the authors use gives NaN gradients there.
pub fn presence_bce(logits: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
    let softplus = logits.clone().abs().neg().exp().add_scalar(1.0).log();
    (logits.clone().clamp_min(0.0) - logits * target + softplus).mean()
}

/// Binary cross-entropy with logits against a constant label, averaged over all elements.
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, label: f64) -> Tensor<1> {
    // max(x, 0) − x·y + log(1 + exp(−|x|))
    let softplus = logits.clone().abs().neg().exp().add_scalar(1.0).log();
    (logits.clone().clamp_min(0.0) - logits.mul_scalar(label) + softplus).mean()
}

/// Sum over the tumour classes (all channels but the last) of the MSE between two
/// probability maps `[B, classes + 1, D, H, W]`.
pub fn consistency(teacher: Tensor<5>, student: Tensor<5>) -> Tensor<1> {
    let [b, k, _, _, _] = teacher.dims();
    let t = teacher.slice([0..b, 0..k - 1]);
    let s = student.slice([0..b, 0..k - 1]);
    (t - s).square().mean().mul_scalar((k - 1) as f64)
}

/// Mean squared error between two tensors of the same shape.
pub fn mse<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    (a - b).square().mean()
}

/// Per-sample Gram matrix `F Fᵀ / (C·N)` of `[B, C, D, H, W]` → `[B, C, C]`.
pub fn gram(x: Tensor<5>) -> Tensor<3> {
    let [b, c, d, h, w] = x.dims();
    let n = d * h * w;
    let f = x.reshape([b, c, n]);
    f.clone()
        .matmul(f.swap_dims(1, 2))
        .div_scalar((c * n) as f64)
}

/// Gram style matching: `Σ (G_t − G_s)² / (4 C² N²)`, averaged over the batch.
pub fn style_loss(teacher: Tensor<5>, student: Tensor<5>) -> Tensor<1> {
    let [b, c, d, h, w] = teacher.dims();
    let n = (d * h * w) as f64;
    let diff = gram(teacher) - gram(student);
    diff.square()
        .sum()
        .div_scalar(4.0 * (c * c) as f64 * n * n * b as f64)
}

/// Cross-layer Gram `M(f, g) = f gᵀ / N` per sample (`[B, C, C]`).
fn cross_gram_matrix(f: Tensor<5>, g: Tensor<5>) -> Tensor<3> {
    let [b, c, d, h, w] = f.dims();
    let n = d * h * w;
    let f = f.reshape([b, c, n]);
    let g = g.reshape([b, c, n]);
    f.matmul(g.swap_dims(1, 2)).div_scalar(n as f64)
}

/// Cross-Gram matching of consecutive bottleneck maps (`i` with `i − 1`, cyclically):
/// `Σ_i Σ (M_t,i − M_s,i)² / (4 C² N²)`, averaged over the batch.
pub fn cross_gram_loss(teacher: &[Tensor<5>; 3], student: &[Tensor<5>; 3]) -> Tensor<1> {
    let [b, c, d, h, w] = teacher[0].dims();
    let n = (d * h * w) as f64;
    let mut total: Option<Tensor<1>> = None;
    for i in 0..3 {
        let j = (i + 2) % 3;
        let mt = cross_gram_matrix(teacher[i].clone(), teacher[j].clone());
        let ms = cross_gram_matrix(student[i].clone(), student[j].clone());
        let term = (mt - ms).square().sum();
        total = Some(match total {
            Some(t) => t + term,
            None => term,
        });
    }
    total
        .expect("three maps")
        .div_scalar(4.0 * (c * c) as f64 * n * n * b as f64)
}

/// The discriminator's loss on detached style maps: teacher → label 0, student → label 1.
pub fn discriminator_loss(
    discriminator: &StyleDiscriminator,
    teacher_style: Tensor<5>,
    student_style: Tensor<5>,
) -> Tensor<1> {
    bce_with_logits(discriminator.forward(teacher_style.detach()), 0.0)
        + bce_with_logits(discriminator.forward(student_style.detach()), 1.0)
}

/// Every term of the training loss, unweighted, and their weighted sum.
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// Presence-weighted Dice of the teacher.
    pub teacher_dice: Tensor<1>,
    /// Presence-weighted Dice of the student.
    pub student_dice: Tensor<1>,
    /// Probability MSE between teacher and student.
    pub consistency: Tensor<1>,
    /// The weight λ(e) the consistency got.
    pub consistency_weight: f64,
    /// Content MSE at the bottleneck.
    pub content: Tensor<1>,
    /// Gram style matching.
    pub style: Tensor<1>,
    /// Cross-Gram matching.
    pub cross_gram: Tensor<1>,
    /// Presence BCE of the teacher.
    pub teacher_presence: Tensor<1>,
    /// Presence BCE of the student.
    pub student_presence: Tensor<1>,
    /// The student's adversarial style term (zero without a discriminator).
    pub adversarial: Tensor<1>,
    /// The weighted sum: what to back-propagate into teacher and student.
    pub total: Tensor<1>,
}

impl LossConfig {
    /// λ(e) = `consistency_max · exp(−5 (1 − min(max(e, 0), R) / R)²)`.
    pub fn consistency_weight(&self, epoch: f64) -> f64 {
        if self.consistency_rampup <= 0.0 {
            return self.consistency_max;
        }
        let phase = 1.0 - epoch.clamp(0.0, self.consistency_rampup) / self.consistency_rampup;
        self.consistency_max * (-5.0 * phase * phase).exp()
    }

    /// The loss of a student trained alone (no teacher, no discriminator: modality dropout
    /// only, the ablation baseline): `student_dice · presence-weighted Dice + presence ·
    /// presence BCE`. The teacher and distillation terms are zero.
    pub fn compute_student_only(&self, student: &NetOutput, targets: &Targets) -> LossTerms {
        let student_dice = weighted_dice(
            student.probabilities.clone(),
            targets.segmentation.clone(),
            student.presence.clone(),
            targets.presence.clone(),
            self.dice_epsilon,
        );
        let student_presence =
            presence_bce(student.presence_logits.clone(), targets.presence.clone());
        let zero = || Tensor::zeros([1], &student.style.device());
        let total = student_dice.clone().mul_scalar(self.student_dice)
            + student_presence.clone().mul_scalar(self.presence);
        LossTerms {
            teacher_dice: zero(),
            student_dice,
            consistency: zero(),
            consistency_weight: 0.0,
            content: zero(),
            style: zero(),
            cross_gram: zero(),
            teacher_presence: zero(),
            student_presence,
            adversarial: zero(),
            total,
        }
    }

    /// All loss terms for one batch. The discriminator (if any) only scores the student's
    /// style: its own parameters get gradients from `total` too, so take only the networks'
    /// gradients from it and train the discriminator with [`discriminator_loss`].
    pub fn compute(
        &self,
        teacher: &NetOutput,
        student: &NetOutput,
        targets: &Targets,
        epoch: f64,
        discriminator: Option<&StyleDiscriminator>,
    ) -> LossTerms {
        let eps = self.dice_epsilon;
        let teacher_dice = weighted_dice(
            teacher.probabilities.clone(),
            targets.segmentation.clone(),
            teacher.presence.clone(),
            targets.presence.clone(),
            eps,
        );
        let student_dice = weighted_dice(
            student.probabilities.clone(),
            targets.segmentation.clone(),
            student.presence.clone(),
            targets.presence.clone(),
            eps,
        );
        let consistency = consistency(teacher.probabilities.clone(), student.probabilities.clone());
        let lambda = self.consistency_weight(epoch);
        let content = mse(teacher.content.clone(), student.content.clone());
        let style = style_loss(teacher.style.clone(), student.style.clone());
        let cross_gram = cross_gram_loss(&teacher.global, &student.global);
        let teacher_presence =
            presence_bce(teacher.presence_logits.clone(), targets.presence.clone());
        let student_presence =
            presence_bce(student.presence_logits.clone(), targets.presence.clone());
        let adversarial = match discriminator {
            Some(d) => bce_with_logits(d.forward(student.style.clone()), 0.0),
            None => Tensor::zeros([1], &student.style.device()),
        };
        let total = teacher_dice.clone().mul_scalar(self.teacher_dice)
            + student_dice.clone().mul_scalar(self.student_dice)
            + consistency.clone().mul_scalar(lambda)
            + content.clone().mul_scalar(self.content)
            + style.clone().mul_scalar(self.style)
            + cross_gram.clone().mul_scalar(self.cross_gram)
            + (teacher_presence.clone() + student_presence.clone()).mul_scalar(self.presence)
            + adversarial.clone().mul_scalar(self.adversarial);
        LossTerms {
            teacher_dice,
            student_dice,
            consistency,
            consistency_weight: lambda,
            content,
            style,
            cross_gram,
            teacher_presence,
            student_presence,
            adversarial,
            total,
        }
    }
}
