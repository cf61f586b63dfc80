//! The student's adapter bank: one entry of adapters and fusion convolutions per modality
//! combination.

use adamm_volume::brats::Availability;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv3d;
use burn::tensor::Device;

use crate::config::AdammConfig;
use crate::layers::{conv1, Adapter, AdapterConfig};

/// Configuration of one [`AdapterEntry`].
#[derive(Config, Debug)]
pub struct AdapterEntryConfig {
    /// The network it adapts.
    pub network: AdammConfig,
}

/// The adapters and bottleneck fusion convolutions of one modality combination.
#[derive(Module, Debug)]
pub struct AdapterEntry {
    /// Encoder adapters: after each downsampling (levels 1 … depth−1), then one on the
    /// deepest level's output (the bottleneck).
    pub encoder: Vec<Adapter>,
    /// Decoder adapters: after each decoder stage's block, except the last stage's, which
    /// adapts the upsampled features before the skip connection (as the authors place it).
    pub decoder: Vec<Adapter>,
    /// The combination's own style convolution (`style_in → bottleneck`).
    pub fuse_style: Conv3d,
    /// The combination's own style + content fusion (`2·bottleneck → bottleneck`).
    pub fuse_content: Conv3d,
}

impl AdapterEntryConfig {
    /// Builds the entry on `device`.
    pub fn init(&self, device: &Device) -> AdapterEntry {
        let n = &self.network;
        let adapter = |c: usize| {
            AdapterConfig::new(c)
                .with_hidden(n.adapter_hidden)
                .with_dropout(n.dropout)
                .init(device)
        };
        let mut encoder: Vec<Adapter> = (1..n.depth).map(|l| adapter(n.width(l))).collect();
        encoder.push(adapter(n.bottleneck_width()));
        // Decoder stage s brings level depth−1−s up to level depth−2−s.
        let decoder = (0..n.depth - 1)
            .map(|s| adapter(n.width(n.depth - 2 - s)))
            .collect();
        AdapterEntry {
            encoder,
            decoder,
            fuse_style: conv1(n.style_in_channels(), n.bottleneck_width()).init(device),
            fuse_content: conv1(2 * n.bottleneck_width(), n.bottleneck_width()).init(device),
        }
    }
}

/// Configuration of an [`AdapterBank`].
#[derive(Config, Debug)]
pub struct AdapterBankConfig {
    /// The network it adapts (its `empty_code_entry` decides whether `0000` has an entry).
    pub network: AdammConfig,
}

/// One [`AdapterEntry`] per partial modality combination, keyed by the availability code.
/// The full combination `1111` has no entry: it takes the plain path.
#[derive(Module, Debug)]
pub struct AdapterBank {
    /// The entries, in [`AdapterBank::codes`] order.
    pub entries: Vec<AdapterEntry>,
    /// The 4-bit availability code of each entry (`Availability::bits`; 0 for `0000`).
    #[module(skip)]
    pub codes: Vec<u8>,
}

/// The codes that get an entry: the 14 partial combinations in `Availability::all_combinations`
/// order, then `0000` when asked for.
pub fn bank_codes(with_empty: bool) -> Vec<u8> {
    let mut codes: Vec<u8> = Availability::all_combinations()
        .into_iter()
        .filter(|a| *a != Availability::FULL)
        .map(|a| a.bits())
        .collect();
    if with_empty {
        codes.push(0);
    }
    codes
}

impl AdapterBankConfig {
    /// Builds the bank on `device`.
    pub fn init(&self, device: &Device) -> AdapterBank {
        let codes = bank_codes(self.network.empty_code_entry);
        let entry = AdapterEntryConfig::new(self.network.clone());
        AdapterBank {
            entries: codes.iter().map(|_| entry.init(device)).collect(),
            codes,
        }
    }
}

impl AdapterBank {
    /// The position of `availability`'s entry, or `None` for `1111` (plain path).
    pub fn index_of(&self, availability: Availability) -> Option<usize> {
        if availability == Availability::FULL {
            return None;
        }
        self.codes.iter().position(|&c| c == availability.bits())
    }

    /// The entry of `availability`, or `None` for `1111` (plain path).
    pub fn entry(&self, availability: Availability) -> Option<&AdapterEntry> {
        self.index_of(availability).map(|i| &self.entries[i])
    }
}
