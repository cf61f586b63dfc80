//! Which modalities a case has: the availability code and the 15 combinations.

use std::fmt;

use super::Modality;

/// Which modalities are present, as a 4-bit code in [`Modality::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Availability(u8);

/// An availability code that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvailabilityError {
    /// Not four characters, each `0` or `1`.
    #[error(
        "availability code {code:?} must be four 0/1 characters for T1, T1Gd, T2, FLAIR (e.g. 1010)"
    )]
    Malformed {
        /// The text that was given.
        code: String,
    },
    /// `0000`: no modality at all.
    #[error("availability code 0000 has no modality; at least one is needed")]
    Empty,
}

impl Availability {
    /// All four modalities.
    pub const FULL: Availability = Availability(0b1111);

    /// From a per-modality presence array.
    pub fn from_present(present: [bool; 4]) -> Availability {
        let mut bits = 0u8;
        for (i, p) in present.iter().enumerate() {
            if *p {
                bits |= 1 << i;
            }
        }
        Availability(bits)
    }

    /// Whether `m` is present.
    pub fn has(self, m: Modality) -> bool {
        self.0 >> m.index() & 1 == 1
    }

    /// Presence per modality.
    pub fn present(self) -> [bool; 4] {
        Modality::ALL.map(|m| self.has(m))
    }

    /// The 15 non-empty combinations, ordered by the number of modalities, then by code
    /// (the order of the paper's tables: single modalities first, all four last).
    pub fn all_combinations() -> Vec<Availability> {
        let mut all: Vec<Availability> = (1u8..16).map(Availability).collect();
        all.sort_by_key(|a| (a.count(), std::cmp::Reverse(a.code())));
        all
    }

    /// Number of modalities present.
    pub fn count(self) -> u32 {
        self.0.count_ones()
    }

    /// Whether no modality is present.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The code string, e.g. `"1010"` (T1, T1Gd, T2, FLAIR).
    pub fn code(self) -> String {
        Modality::ALL
            .iter()
            .map(|&m| if self.has(m) { '1' } else { '0' })
            .collect()
    }

    /// A readable name, e.g. `"T1+T2"`.
    pub fn name(self) -> String {
        let names: Vec<&str> = Modality::ALL
            .iter()
            .filter(|&&m| self.has(m))
            .map(|m| m.name())
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join("+")
        }
    }

    /// The presence bit mask, 0..=15: bit `i` (value `1 << i`) is set when
    /// `Modality::ALL[i]` is present, so T1 is bit 0 (1) and FLAIR bit 3 (8); 0 means no
    /// modality, 15 all four. The adapter bank keys its entries by this value.
    ///
    /// The code string lists T1 first, so it reads the bits from the lowest up: `"1010"`
    /// (T1 + T2) is `0b0101` = 5.
    ///
    /// ```
    /// use adamm_volume::brats::Availability;
    /// assert_eq!(Availability::parse("1010").unwrap().bits(), 0b0101);
    /// assert_eq!(Availability::parse("0001").unwrap().bits(), 8); // FLAIR only
    /// assert_eq!(Availability::FULL.bits(), 15);
    /// ```
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Parses a 4-character code such as `"1010"` (surrounding white space is ignored).
    pub fn parse(code: &str) -> Result<Availability, AvailabilityError> {
        let chars: Vec<char> = code.trim().chars().collect();
        if chars.len() != 4 || chars.iter().any(|c| *c != '0' && *c != '1') {
            return Err(AvailabilityError::Malformed { code: code.into() });
        }
        let a = Availability::from_present([0, 1, 2, 3].map(|i| chars[i] == '1'));
        if a.is_empty() {
            return Err(AvailabilityError::Empty);
        }
        Ok(a)
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_follow_the_fixed_order() {
        let a = Availability::parse("1010").expect("valid");
        assert!(a.has(Modality::T1) && a.has(Modality::T2));
        assert!(!a.has(Modality::T1Gd) && !a.has(Modality::Flair));
        assert_eq!(a.name(), "T1+T2");
        assert_eq!(a.code(), "1010");
        assert_eq!(Availability::FULL.name(), "T1+T1Gd+T2+FLAIR");
        assert!(Availability::parse("0000").is_err());
        assert!(Availability::parse("10a0").is_err());
        assert!(Availability::parse("101").is_err());
    }

    #[test]
    fn bad_codes_get_their_own_error() {
        assert_eq!(Availability::parse("0000"), Err(AvailabilityError::Empty));
        let err = Availability::parse("10a0").expect_err("not 0/1");
        assert_eq!(
            err,
            AvailabilityError::Malformed {
                code: "10a0".into()
            }
        );
        assert!(err.to_string().contains("\"10a0\""), "{err}");
        assert!(err.to_string().contains("T1, T1Gd, T2, FLAIR"), "{err}");
        assert!(matches!(
            Availability::parse("101"),
            Err(AvailabilityError::Malformed { .. })
        ));
        assert_eq!(
            Availability::parse(" 0110\n").map(|a| a.code()),
            Ok("0110".into())
        );
    }

    #[test]
    fn bits_are_the_presence_mask_in_modality_order() {
        let single = |i: usize| Availability::from_present([0, 1, 2, 3].map(|j| j == i));
        assert_eq!([0, 1, 2, 3].map(|i| single(i).bits()), [1, 2, 4, 8]);
        assert_eq!(Availability::parse("1100").expect("code").bits(), 3);
        assert_eq!(Availability::parse("0011").expect("code").bits(), 12);
        assert_eq!(Availability::from_present([false; 4]).bits(), 0);
        let mut all: Vec<u8> = Availability::all_combinations()
            .iter()
            .map(|a| a.bits())
            .collect();
        all.sort();
        assert_eq!(all, (1..16).collect::<Vec<u8>>());
    }

    #[test]
    fn fifteen_distinct_combinations_singles_first_full_last() {
        let all = Availability::all_combinations();
        assert_eq!(all.len(), 15);
        let mut codes: Vec<String> = all.iter().map(|a| a.code()).collect();
        assert_eq!(&codes[..4], ["1000", "0100", "0010", "0001"]);
        assert_eq!(codes[14], "1111");
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 15);
    }
}
