//! Teaching mode's logic, free of the DOM: one case with all four scans segmented from each
//! of the 15 modality combinations in turn (all four first), each result scored (Dice of WT,
//! TC, ET) against the ground truth when the case has one, else against the all-four result,
//! so that a class sees what each missing scan costs.

use std::rc::Rc;

use adamm_volume::brats::{Availability, Region};

/// What the combinations are scored against.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// The case's ground truth (labels on the result's grid).
    Truth(Rc<Vec<u8>>),
    /// The result from all four scans, once it is in.
    AllFour,
}

/// One combination's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    /// The scans it used.
    pub availability: Availability,
    /// The labels (internal values) on the result's grid.
    pub labels: Rc<Vec<u8>>,
    /// Dice of WT, TC, ET against the reference.
    pub dice: [f64; 3],
}

/// A teaching run: which combination comes next, which job is whose, the tiles so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Teaching {
    order: Vec<Availability>,
    reference: Reference,
    /// The job running and its combination.
    running: Option<(u32, Availability)>,
    /// The results, in the order they came.
    pub tiles: Vec<Tile>,
}

/// Why a result cannot be taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TeachingError {
    /// The labels do not match the reference's grid.
    #[error("the {got} labels of a combination do not match the {expected} of the reference")]
    Grid {
        /// Labels received.
        got: usize,
        /// Labels of the reference.
        expected: usize,
    },
}

impl Teaching {
    /// A run over all 15 combinations, all four scans first, then by fewer scans missing
    /// (three scans, two, one; each group in `Availability::all_combinations` order).
    pub fn new(reference: Reference) -> Teaching {
        let mut order = Availability::all_combinations();
        order.sort_by_key(|a| std::cmp::Reverse(a.count()));
        Teaching {
            order,
            reference,
            running: None,
            tiles: Vec::new(),
        }
    }

    /// What the combinations are scored against, in words.
    pub fn scored_against(&self) -> &'static str {
        match self.reference {
            Reference::Truth(_) => "the ground truth",
            Reference::AllFour => "the result from all four scans",
        }
    }

    /// The combination to run next (`None` when all are done or one is running).
    pub fn next(&self) -> Option<Availability> {
        if self.running.is_some() {
            return None;
        }
        self.order.get(self.tiles.len()).copied()
    }

    /// Job `job` runs combination `availability`.
    pub fn started(&mut self, job: u32, availability: Availability) {
        self.running = Some((job, availability));
    }

    /// Whether job `job`'s result belongs to this run.
    pub fn owns(&self, job: u32) -> bool {
        self.running.is_some_and(|(j, _)| j == job)
    }

    /// Whether a combination is being segmented.
    pub fn running(&self) -> bool {
        self.running.is_some()
    }

    /// Combinations done and in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.tiles.len(), self.order.len())
    }

    /// Takes the labels of the running job's combination and scores them; `None` when `job` is
    /// not the running one.
    pub fn finished(
        &mut self,
        job: u32,
        labels: Rc<Vec<u8>>,
    ) -> Option<Result<&Tile, TeachingError>> {
        let (_, availability) = self.running.filter(|(j, _)| *j == job)?;
        self.running = None;
        let reference: &[u8] = match &self.reference {
            Reference::Truth(t) => t,
            Reference::AllFour => match self.tiles.first() {
                Some(first) => &first.labels,
                // All four come first: they are their own reference.
                None => &labels,
            },
        };
        if reference.len() != labels.len() {
            return Some(Err(TeachingError::Grid {
                got: labels.len(),
                expected: reference.len(),
            }));
        }
        let dice = Region::ALL.map(|r| dice(&labels, reference, r));
        self.tiles.push(Tile {
            availability,
            labels,
            dice,
        });
        self.tiles.last().map(Ok)
    }

    /// The running job was lost (cancelled, or the worker died): the run stops where it is.
    pub fn abandoned(&mut self) {
        self.running = None;
        self.order.truncate(self.tiles.len());
    }
}

/// Dice of `region` between two label maps; 1 when the region is in neither (as BraTS
/// scores an empty region predicted empty).
pub fn dice(a: &[u8], b: &[u8], region: Region) -> f64 {
    let (mut both, mut total) = (0usize, 0usize);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (region.contains(x), region.contains(y));
        both += usize::from(x && y);
        total += usize::from(x) + usize::from(y);
    }
    if total == 0 {
        1.0
    } else {
        2.0 * both as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adamm_volume::brats::label;

    #[test]
    fn all_fifteen_run_once_all_four_first_and_fewer_scans_later() {
        let mut t = Teaching::new(Reference::AllFour);
        let mut seen = Vec::new();
        let mut job = 10;
        while let Some(a) = t.next() {
            t.started(job, a);
            assert_eq!(t.next(), None, "one job at a time");
            assert!(t.owns(job) && !t.owns(job + 1));
            let labels = Rc::new(vec![label::ET, label::SNFH, label::BACKGROUND]);
            assert!(t.finished(job, labels).is_some());
            seen.push(a);
            job += 1;
        }
        assert_eq!(seen.len(), 15);
        assert_eq!(seen[0], Availability::FULL);
        assert!(seen.windows(2).all(|w| w[0].count() >= w[1].count()));
        let mut codes: Vec<String> = seen.iter().map(|a| a.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 15);
        assert_eq!(t.progress(), (15, 15));
    }

    #[test]
    fn combinations_are_scored_against_all_four_or_the_truth() {
        let full = Rc::new(vec![label::ET, label::ET, label::SNFH, label::BACKGROUND]);
        let partial = Rc::new(vec![label::ET, label::BACKGROUND, label::SNFH, label::SNFH]);
        let mut t = Teaching::new(Reference::AllFour);
        t.started(1, Availability::FULL);
        let first = t.finished(1, full.clone()).expect("owned").expect("scored");
        assert_eq!(first.dice, [1.0; 3]);
        let next = t.next().expect("a next combination");
        assert_eq!(next.count(), 3);
        t.started(2, next);
        // A result of another job is not this run's.
        assert!(t.finished(7, partial.clone()).is_none());
        let second = t
            .finished(2, partial.clone())
            .expect("owned")
            .expect("scored");
        // WT: 3 of 3 against 3 → 2·2/(3+3); TC = ET: 1 of 1 against 2 → 2/3.
        assert!((second.dice[0] - 4.0 / 6.0).abs() < 1e-12);
        assert!((second.dice[1] - 2.0 / 3.0).abs() < 1e-12);
        assert!((second.dice[2] - 2.0 / 3.0).abs() < 1e-12);
        // Against a truth, all four are scored too; a wrong size is refused.
        let mut t = Teaching::new(Reference::Truth(partial.clone()));
        t.started(3, Availability::FULL);
        let scored = t.finished(3, full).expect("owned").expect("scored");
        assert!(scored.dice[0] < 1.0);
        assert_eq!(t.scored_against(), "the ground truth");
        t.started(4, t.next().expect("next"));
        let wrong = t.finished(4, Rc::new(vec![0; 3])).expect("owned");
        assert!(matches!(
            wrong,
            Err(TeachingError::Grid {
                got: 3,
                expected: 4
            })
        ));
    }

    #[test]
    fn an_abandoned_run_stops_where_it_is() {
        let mut t = Teaching::new(Reference::AllFour);
        t.started(1, Availability::FULL);
        t.abandoned();
        assert_eq!(t.next(), None);
        assert_eq!(t.progress(), (0, 0));
        assert!(!t.owns(1));
    }

    #[test]
    fn dice_of_empty_regions_is_one() {
        assert_eq!(dice(&[0, 0], &[0, 0], Region::ET), 1.0);
        assert_eq!(dice(&[label::ET, 0], &[0, 0], Region::ET), 0.0);
    }
}
