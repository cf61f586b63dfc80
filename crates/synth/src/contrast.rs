//! The contrast model: the mean signal of every tissue and lesion class in every modality.
//!
//! Values are relative to white matter in the same modality (WM = 1). They come from three
//! sources, in this order of weight:
//! - **T1**: the SRI24 atlas itself, whose class means are CSF 282, GM 492, WM 705, i.e.
//!   0.40 : 0.70 : 1.
//! - **T2**: the SPM `avg152T2` template sampled in the ICBM152 tissue maps gives CSF : GM : WM
//!   ≈ 2.2–2.4 : 1.3 : 1 (and T1 0.57 : 0.74 : 1) on a blurry 2 mm average, which pulls CSF
//!   towards the tissues by partial volume; single subjects at 1 mm show CSF nearer 2.5–3 × WM,
//!   hence 2.6 : 1.35 : 1.
//! - **FLAIR** (no template available): CSF nulled by the inversion pulse but not to zero
//!   (0.30), GM above WM (1.20) as on clinical 3 T FLAIR; **T1Gd**: the T1 values with a small
//!   vascular rise of GM and CSF, plus enhancing vessels in the sulci (1.5) and choroid plexus
//!   in the ventricles (1.45).
//!
//! Lesion classes follow the radiology of adult diffuse gliomas:
//! - **NETC** (necrosis): fluid-like, dark on T1 and T1Gd (0.42, 0.44, between CSF and GM),
//!   bright on T2 (2.3, below free CSF), intermediate on FLAIR (1.05, proteinaceous fluid is
//!   not nulled). In cases without enhancement NETC is solid non-enhancing tumour instead:
//!   mildly dark on T1 (0.60), bright on T2 (1.95) and FLAIR (1.60) — see
//!   [`NON_ENHANCING_CORE`].
//! - **SNFH** (edema): slightly dark on T1 (0.72 ≈ GM), bright on T2 (2.0) and the brightest
//!   class on FLAIR (1.80), mixed with the underlying tissue because edema infiltrates it.
//! - **ET** (enhancing tumour): iso to edema on T1 (0.75), bright on T1Gd only (1.80, the
//!   brightest class there), on T2 and FLAIR close to edema (1.70, 1.50) so it cannot be told
//!   from edema without T1Gd — the property that makes a missing T1Gd cost ET Dice as it does
//!   on real data.
//!
//! Each case multiplies every non-WM entry by its own factor in `1 ± JITTER` (scanner and
//! protocol variation). For training, `CaseContrast::draw_randomised` draws far wider tables
//! (×0.6–×1.6 per entry, [`RANDOM_FACTOR`]) and keeps only those in which what physics fixes
//! still holds ([`physically_ordered`]); `adamm_synth::generate_with` takes it
//! (`ContrastMode::Randomised`; `adamm synth --mode randomised`). The orderings the tests
//! check hold for every jitter draw: the closest pair, FLAIR GM vs WM, stays at
//! ≥ 1.20 × 0.94 = 1.13.

use adamm_volume::brats::Modality;

use crate::rng::Rand;

/// The classes of the contrast table, in column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Cerebrospinal fluid.
    Csf,
    /// Grey matter.
    Gm,
    /// White matter.
    Wm,
    /// Necrotic / non-enhancing tumour core (label 1).
    Netc,
    /// Surrounding non-enhancing FLAIR hyperintensity, edema (label 2).
    Snfh,
    /// Enhancing tumour (label 3).
    Et,
}

impl Class {
    /// All classes in table order.
    pub const ALL: [Class; 6] = [
        Class::Csf,
        Class::Gm,
        Class::Wm,
        Class::Netc,
        Class::Snfh,
        Class::Et,
    ];

    /// Column in [`CONTRAST`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Class::Csf => "CSF",
            Class::Gm => "GM",
            Class::Wm => "WM",
            Class::Netc => "NETC",
            Class::Snfh => "SNFH",
            Class::Et => "ET",
        }
    }
}

/// Mean signal relative to WM: rows in [`Modality::ALL`] order (T1, T1Gd, T2, FLAIR), columns
/// in [`Class::ALL`] order (CSF, GM, WM, NETC, SNFH, ET).
pub const CONTRAST: [[f32; 6]; 4] = [
    [0.40, 0.70, 1.00, 0.42, 0.72, 0.75],
    [0.42, 0.72, 1.00, 0.44, 0.75, 1.80],
    [2.60, 1.35, 1.00, 2.30, 2.00, 1.70],
    [0.30, 1.20, 1.00, 1.05, 1.80, 1.50],
];

/// The NETC column for cases without enhancement (solid non-enhancing tumour), per modality.
pub const NON_ENHANCING_CORE: [f32; 4] = [0.60, 0.62, 1.95, 1.60];

/// T1Gd signal of enhancing sulcal vessels (relative to WM).
pub const VESSEL_T1GD: f32 = 1.50;
/// T1Gd signal of the enhancing choroid plexus (relative to WM).
pub const CHOROID_T1GD: f32 = 1.45;

/// Half-width of the per-case multiplicative jitter of each table entry (±6 %).
pub const JITTER: f64 = 0.06;

/// Texture amplitude inside each lesion class (relative modulation by smooth noise):
/// necrosis is the most heterogeneous, edema the least.
pub const LESION_TEXTURE: [f32; 3] = [0.15, 0.06, 0.12];

/// Signal of the fluid in a cystic tumour core (randomised shape mode,
/// `FocusPlan::cystic`), per modality, as a multiple of the case's CSF mean: proteinaceous
/// fluid is a little brighter than CSF on T1 and T1Gd, about as bright on T2, and not fully
/// nulled on FLAIR (with the realistic table: 0.46, 0.48, 2.47, 0.54 × WM).
pub const CYST_FLUID: [f32; 4] = [1.15, 1.15, 0.95, 1.8];
/// Texture amplitude of cyst fluid (relative, as [`LESION_TEXTURE`]): nearly homogeneous.
pub const CYST_TEXTURE: f32 = 0.03;

/// Gain of the atlas T1 texture (units of the GM→WM contrast of each modality).
pub const TEXTURE_GAIN: f32 = 0.5;

/// Range of the per-entry factor (log-uniform) of the randomised contrast table
/// (`CaseContrast::draw_randomised`): every non-WM class mean is today's table entry times a
/// factor in ×0.6–×1.6, so the network sees contrasts well beyond one scanner's.
pub const RANDOM_FACTOR: (f64, f64) = (0.6, 1.6);
/// Draws of the randomised table before giving up on the physical orderings (then the
/// realistic jittered table is used). With these ranges and margins about 13 % of the draws
/// are accepted (Monte Carlo), so the fallback happens with probability below 1e-15.
const RANDOM_TRIES: usize = 256;

/// How much brighter than grey matter edema must be on T2 and FLAIR in a randomised table
/// (×1.2; the realistic table has ×1.5). Vasogenic edema is plainly hyperintense on both: a
/// table that puts it within a few per cent of cortex makes it invisible under the
/// randomised noise, bias and intensity curve (×1.2 stays ×1.12 after the flattest curve,
/// γ = 0.6), and a network trained on such cases learns to call bright cortex edema.
pub const EDEMA_OVER_GM: f32 = 1.2;
/// How much brighter than white matter edema must be on T2 and FLAIR in a randomised table
/// (×1.4; the realistic table has ×2.0 and ×1.8): above what the ±40 % bias field alone makes
/// of white matter.
pub const EDEMA_OVER_WM: f32 = 1.4;

/// What physics fixes whatever the scanner, checked on a randomised table (`[modality][class]`
/// relative to WM): CSF dark on T1 and FLAIR (below GM and 0.8 × WM) and bright on T2 (above
/// GM and 1.3 × WM); edema bright on T2 and FLAIR (above [`EDEMA_OVER_GM`] × GM and
/// [`EDEMA_OVER_WM`] × WM); ET enhancing on
/// T1Gd (above GM, edema and 1.2 × WM) and not on T1 (below WM); grey matter darker than white
/// matter on T1 and T1Gd, brighter on T2.
pub fn physically_ordered(table: &[[f32; 6]; 4]) -> bool {
    ordering_violations(table) == 0
}

/// How many of the orderings of [`physically_ordered`] `table` breaks (each inequality
/// counted once).
pub fn ordering_violations(table: &[[f32; 6]; 4]) -> usize {
    use Class::*;
    let t = |m: Modality, c: Class| table[m.index()][c.index()];
    let (t1, t1gd, t2, flair) = (Modality::T1, Modality::T1Gd, Modality::T2, Modality::Flair);
    let mut holds = Vec::with_capacity(18);
    for m in [t1, flair] {
        holds.extend([t(m, Csf) < t(m, Gm), t(m, Csf) < 0.8]);
    }
    holds.extend([t(t2, Csf) > t(t2, Gm), t(t2, Csf) > 1.3]);
    for m in [t2, flair] {
        holds.extend([
            t(m, Snfh) > EDEMA_OVER_GM * t(m, Gm),
            t(m, Snfh) > EDEMA_OVER_WM,
        ]);
    }
    holds.extend([
        t(t1gd, Et) > 1.2,
        t(t1gd, Et) > t(t1gd, Gm),
        t(t1gd, Et) > t(t1gd, Snfh),
        t(t1, Et) < 1.0,
        t(t1, Gm) < 1.0,
        t(t1gd, Gm) < 1.0,
        t(t2, Gm) > 1.0,
    ]);
    holds.iter().filter(|&&h| !h).count()
}

/// One case's contrast table after jitter.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseContrast {
    /// `[modality][class]` means relative to WM.
    pub table: [[f32; 6]; 4],
    /// T1Gd of vessels and choroid plexus.
    pub vessel: f32,
    /// T1Gd of choroid plexus.
    pub choroid: f32,
}

impl CaseContrast {
    /// [`CONTRAST`] (NETC from [`NON_ENHANCING_CORE`] when `enhancing` is false), vessels and
    /// choroid plexus, every entry but WM times its own `factor(rng)`.
    fn scaled(rng: &mut Rand, enhancing: bool, factor: impl Fn(&mut Rand) -> f64) -> CaseContrast {
        let mut table = CONTRAST;
        for m in Modality::ALL {
            if !enhancing {
                table[m.index()][Class::Netc.index()] = NON_ENHANCING_CORE[m.index()];
            }
            for c in Class::ALL {
                if c != Class::Wm {
                    table[m.index()][c.index()] *= factor(rng) as f32;
                }
            }
        }
        CaseContrast {
            table,
            vessel: VESSEL_T1GD * factor(rng) as f32,
            choroid: CHOROID_T1GD * factor(rng) as f32,
        }
    }

    /// Draws a jittered table; `enhancing` false swaps NETC for non-enhancing solid tumour.
    pub(crate) fn draw(rng: &mut Rand, enhancing: bool) -> CaseContrast {
        CaseContrast::scaled(rng, enhancing, |rng| rng.range(1.0 - JITTER, 1.0 + JITTER))
    }

    /// Draws a randomised table for training: every non-WM entry of [`CONTRAST`] (NETC from
    /// [`NON_ENHANCING_CORE`] when `enhancing` is false) times a log-uniform factor in
    /// [`RANDOM_FACTOR`], vessels and choroid plexus likewise, redrawn until
    /// [`physically_ordered`] holds (at most 256 draws, then the realistic jittered table).
    pub(crate) fn draw_randomised(rng: &mut Rand, enhancing: bool) -> CaseContrast {
        let (lo, hi) = RANDOM_FACTOR;
        for _ in 0..RANDOM_TRIES {
            let drawn = CaseContrast::scaled(rng, enhancing, |rng| rng.log_range(lo, hi));
            // Without enhancement there is no ET to order; check the rest with ET at its
            // table value.
            let mut check = drawn.table;
            if !enhancing {
                for m in Modality::ALL {
                    check[m.index()][Class::Et.index()] = CONTRAST[m.index()][Class::Et.index()];
                }
            }
            if physically_ordered(&check) {
                return drawn;
            }
        }
        CaseContrast::draw(rng, enhancing)
    }

    /// Mean of `class` in `modality`.
    pub fn get(&self, modality: Modality, class: Class) -> f32 {
        self.table[modality.index()][class.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The orderings the generated images must show hold in the table itself, with margin.
    #[test]
    fn table_orderings() {
        let t = |m: Modality, c: Class| CONTRAST[m.index()][c.index()];
        use Class::*;
        use Modality::*;
        assert!(t(T1, Wm) > t(T1, Gm) && t(T1, Gm) > t(T1, Csf));
        assert!(t(T2, Csf) > t(T2, Gm) && t(T2, Gm) > t(T2, Wm));
        assert!(t(Flair, Gm) > t(Flair, Wm) && t(Flair, Wm) > t(Flair, Csf));
        assert!(t(T1Gd, Et) > VESSEL_T1GD && t(T1Gd, Et) > 1.5 * t(T1Gd, Wm));
        for m in [T1, T2, Flair] {
            // Without contrast, ET is within 20 % of edema: not separable.
            assert!((t(m, Et) / t(m, Snfh) - 1.0).abs() < 0.2, "{m}");
        }
        assert!(t(Flair, Snfh) > t(Flair, Gm) * 1.3);
        assert!(t(T1, Netc) < t(T1, Gm) && t(T2, Netc) > t(T2, Gm));
        // Jitter cannot flip the tightest pair.
        let worst = t(Flair, Gm) * (1.0 - JITTER as f32);
        assert!(worst > 1.1);
    }

    #[test]
    fn the_realistic_table_is_physically_ordered() {
        assert!(physically_ordered(&CONTRAST));
    }

    #[test]
    fn randomised_tables_stay_in_range_keep_physics_and_vary_widely() {
        let mut rng = Rand::new(17);
        let (lo, hi) = RANDOM_FACTOR;
        let mut spread = [[(f32::MAX, f32::MIN); 6]; 4];
        for i in 0..400 {
            let enhancing = i % 3 != 0;
            let c = CaseContrast::draw_randomised(&mut rng, enhancing);
            let mut check = c.table;
            for m in Modality::ALL {
                assert_eq!(c.get(m, Class::Wm), 1.0);
                let base = |cl: Class| {
                    if cl == Class::Netc && !enhancing {
                        NON_ENHANCING_CORE[m.index()]
                    } else {
                        CONTRAST[m.index()][cl.index()]
                    }
                };
                for cl in Class::ALL {
                    let r = f64::from(c.get(m, cl) / base(cl));
                    assert!(r >= lo - 1e-6 && r <= hi + 1e-6, "{m} {}: ×{r}", cl.name());
                    let s = &mut spread[m.index()][cl.index()];
                    *s = (s.0.min(r as f32), s.1.max(r as f32));
                }
                if !enhancing {
                    check[m.index()][Class::Et.index()] = CONTRAST[m.index()][Class::Et.index()];
                }
            }
            assert!(physically_ordered(&check), "draw {i}: {:?}", c.table);
            // Edema conspicuous on T2 and FLAIR.
            for m in [Modality::T2, Modality::Flair] {
                let edema = c.get(m, Class::Snfh);
                assert!(
                    edema > EDEMA_OVER_GM * c.get(m, Class::Gm),
                    "{m}: {:?}",
                    c.table
                );
                assert!(edema > EDEMA_OVER_WM, "{m}: {:?}", c.table);
            }
        }
        // The draws use most of the range: not collapsed onto the realistic table.
        for (m, row) in spread.iter().enumerate() {
            for (cl, &(min, max)) in row.iter().enumerate() {
                if cl != Class::Wm.index() {
                    assert!(max / min > 1.5, "modality {m} class {cl}: ×{min}–×{max}");
                }
            }
        }
    }

    #[test]
    fn jitter_keeps_wm_at_one_and_stays_bounded() {
        let mut rng = Rand::new(5);
        for _ in 0..50 {
            let c = CaseContrast::draw(&mut rng, true);
            for m in Modality::ALL {
                assert_eq!(c.get(m, Class::Wm), 1.0);
                for cl in Class::ALL {
                    let r = c.get(m, cl) / CONTRAST[m.index()][cl.index()];
                    assert!((r - 1.0).abs() <= JITTER as f32 + 1e-6);
                }
            }
            let lgg = CaseContrast::draw(&mut rng, false);
            let r = lgg.get(Modality::Flair, Class::Netc) / NON_ENHANCING_CORE[3];
            assert!((r - 1.0).abs() <= JITTER as f32 + 1e-6);
        }
    }
}
