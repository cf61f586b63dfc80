//! Teacher and student networks.

use adamm_volume::brats::Availability;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::backbone::{Adaptation, Backbone, BackboneConfig, NetOutput};
use crate::bank::{AdapterBank, AdapterBankConfig};
use crate::config::AdammConfig;
use crate::error::{ModelError, Result};
use crate::garm::{Garm, GarmConfig};
use crate::presence::{PresenceHead, PresenceHeadConfig};

/// The teacher: backbone and presence head. It always sees all four modalities.
#[derive(Module, Debug)]
pub struct Teacher {
    /// The residual U-Net.
    pub backbone: Backbone,
    /// The presence head.
    pub presence: PresenceHead,
    /// The configuration it was built from.
    #[module(skip)]
    pub config: AdammConfig,
}

/// The student: the same backbone and presence head, plus the adapter bank and GARM used for
/// partial modality combinations. With `1111` it takes the plain path, exactly like a teacher.
#[derive(Module, Debug)]
pub struct Student {
    /// The residual U-Net.
    pub backbone: Backbone,
    /// The presence head.
    pub presence: PresenceHead,
    /// One adapter entry per partial combination.
    pub bank: AdapterBank,
    /// The bottleneck graph module.
    pub garm: Garm,
    /// The configuration it was built from.
    #[module(skip)]
    pub config: AdammConfig,
}

impl AdammConfig {
    /// Builds a teacher on `device` (validating the configuration).
    pub fn init_teacher(&self, device: &Device) -> Result<Teacher> {
        self.validate()?;
        Ok(Teacher {
            backbone: BackboneConfig::new(self.clone()).init(device),
            presence: self.presence_config().init(device),
            config: self.clone(),
        })
    }

    /// Builds a student on `device` (validating the configuration).
    pub fn init_student(&self, device: &Device) -> Result<Student> {
        self.validate()?;
        Ok(Student {
            backbone: BackboneConfig::new(self.clone()).init(device),
            presence: self.presence_config().init(device),
            bank: AdapterBankConfig::new(self.clone()).init(device),
            garm: GarmConfig::new(self.bottleneck_width())
                .with_nodes(self.graph_nodes)
                .with_threshold(self.graph_threshold)
                .init(device),
            config: self.clone(),
        })
    }

    fn presence_config(&self) -> PresenceHeadConfig {
        PresenceHeadConfig::new(self.base_width).with_classes(self.tumour_classes())
    }
}

/// Checks that `x` is `[B, in_channels, D, H, W]` with every size a multiple of
/// [`AdammConfig::size_multiple`].
pub fn check_input(config: &AdammConfig, dims: [usize; 5]) -> Result<()> {
    let m = config.size_multiple();
    if dims[1] != config.in_channels {
        return Err(ModelError::InvalidInput(format!(
            "the network takes {} channels, the input has {}",
            config.in_channels, dims[1]
        )));
    }
    if dims[2..].iter().any(|&s| s == 0 || !s.is_multiple_of(m)) {
        return Err(ModelError::InvalidInput(format!(
            "spatial sizes {:?} must be positive multiples of {m}",
            &dims[2..]
        )));
    }
    Ok(())
}

impl Teacher {
    /// One forward pass on `x` (`[B, 4, D, H, W]`, sizes multiples of `2^(depth−1)`).
    pub fn forward(&self, x: Tensor<5>) -> NetOutput {
        self.backbone.forward_with(x, None, &self.presence)
    }

    /// [`Teacher::forward`] after checking the input's shape.
    pub fn try_forward(&self, x: Tensor<5>) -> Result<NetOutput> {
        check_input(&self.config, x.dims())?;
        Ok(self.forward(x))
    }
}

impl Student {
    /// One forward pass on `x` (`[B, 4, D, H, W]`, absent modalities already zeroed — see
    /// [`mask_modalities`]) for the combination `availability`: its adapter entry and GARM
    /// for a partial combination, the plain path for `1111`.
    ///
    /// # Panics
    /// If the bank has no entry for `availability` (only `0000` can lack one) or the shape
    /// is wrong; [`Student::try_forward`] returns errors instead.
    pub fn forward(&self, x: Tensor<5>, availability: Availability) -> NetOutput {
        match self.try_forward(x, availability) {
            Ok(out) => out,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`Student::forward`] returning errors for a bad shape or a code without an entry.
    pub fn try_forward(&self, x: Tensor<5>, availability: Availability) -> Result<NetOutput> {
        check_input(&self.config, x.dims())?;
        let adapt = if availability == Availability::FULL {
            None
        } else {
            let entry = self.bank.entry(availability).ok_or_else(|| {
                ModelError::InvalidInput(format!(
                    "the adapter bank has no entry for the code {}",
                    availability.code()
                ))
            })?;
            Some(Adaptation {
                entry,
                garm: &self.garm,
            })
        };
        Ok(self.backbone.forward_with(x, adapt, &self.presence))
    }
}

/// Zeroes the channels of the modalities `availability` marks absent (`x`: `[B, 4, D, H, W]`).
pub fn mask_modalities(x: Tensor<5>, availability: Availability) -> Tensor<5> {
    let device = x.device();
    let present: Vec<f32> = availability
        .present()
        .iter()
        .map(|&p| if p { 1.0 } else { 0.0 })
        .collect();
    let mask =
        Tensor::<1>::from_data(TensorData::new(present, [4]), &device).reshape([1, 4, 1, 1, 1]);
    x * mask
}
