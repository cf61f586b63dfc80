//! The case the user assembles in the page: which file plays which role (one of the four
//! modalities or the ground truth), what is wrong with each file, and what a segmentation
//! job takes from it when it starts ([`Snapshot`]).
//!
//! Pure logic, no DOM: unit-tested natively and in the browser (`wasm-bindgen-test`). Each
//! file carries a handle of the page's choosing (the browser's `Blob` of the file, posted to
//! the worker as it is; `()` in tests), so the case never holds the file's bytes.

use std::cell::OnceCell;
use std::rc::Rc;

use adamm_volume::align::reference_scan;
use adamm_volume::brats::{
    check_same_grid, classify_file_name, Availability, FileRole, LabelConvention, LabelError,
    Modality,
};
use adamm_volume::{Header, Volume};

/// What a file is used as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// One of the four MRI modalities.
    Image(Modality),
    /// The ground-truth segmentation (BraTS 2021 or 2023 labels).
    Truth,
}

impl Role {
    /// Every role, in the order the page lists them.
    pub const ALL: [Role; 5] = [
        Role::Image(Modality::T1),
        Role::Image(Modality::T1Gd),
        Role::Image(Modality::T2),
        Role::Image(Modality::Flair),
        Role::Truth,
    ];

    /// Display name: `T1`, `T1Gd`, `T2`, `FLAIR`, `ground truth`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Image(m) => m.name(),
            Role::Truth => "ground truth",
        }
    }

    /// A stable key for form controls (`t1`, `t1gd`, `t2`, `flair`, `truth`).
    pub fn key(self) -> &'static str {
        match self {
            Role::Image(Modality::T1) => "t1",
            Role::Image(Modality::T1Gd) => "t1gd",
            Role::Image(Modality::T2) => "t2",
            Role::Image(Modality::Flair) => "flair",
            Role::Truth => "truth",
        }
    }

    /// The role whose [`Role::key`] is `key`.
    pub fn from_key(key: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.key() == key)
    }

    /// The role a BraTS 2021/2023 file name announces (`…_t1ce.nii.gz`, `…-t2f.nii`,
    /// `…-seg.nii.gz`), if any.
    pub fn from_file_name(name: &str) -> Option<Role> {
        classify_file_name(name).map(|(_, role, _)| match role {
            FileRole::Image(m) => Role::Image(m),
            FileRole::Segmentation => Role::Truth,
        })
    }
}

/// A file's contents once read: the volume, or why it could not be used.
#[derive(Debug, Clone)]
pub enum Contents {
    /// A readable 3-D volume.
    Volume {
        /// The decoded volume.
        volume: Rc<Volume>,
        /// The file's size in bytes (NIfTI, gzip or not), as shown next to it.
        size: usize,
    },
    /// Not usable; the text says why (shown next to the file).
    Unreadable(String),
}

impl Contents {
    /// Decodes a file's bytes (NIfTI-1/2, gzip or not), once; an undecodable file keeps the
    /// reason, worded for the page ([`crate::describe::unreadable`]). The bytes are not kept:
    /// the worker reads the file itself.
    pub fn read(bytes: &[u8]) -> Contents {
        match adamm_volume::read_bytes(bytes) {
            Ok(volume) => Contents::Volume {
                volume: Rc::new(volume),
                size: bytes.len(),
            },
            Err(e) => Contents::Unreadable(crate::describe::unreadable(bytes.len(), &e)),
        }
    }
}

/// A file's voxels as a BraTS label map (internal labels), or why they are not one.
pub type AsLabels = Result<Rc<Vec<u8>>, LabelError>;

/// One file the user gave; `F` is the page's handle of it (see the module docs).
#[derive(Debug, Clone)]
pub struct CaseFile<F = ()> {
    /// Unique within the page.
    pub id: u64,
    /// The file name as the browser gives it.
    pub name: String,
    /// What it is used as (`None`: not used).
    pub role: Option<Role>,
    /// Its contents.
    pub contents: Contents,
    /// The file itself as the page holds it (posted to the worker).
    pub source: F,
    /// Its voxels read as a BraTS label map, converted once when first asked for (the
    /// page asks on every redraw of the file list).
    labels: Rc<OnceCell<Option<AsLabels>>>,
}

impl<F> CaseFile<F> {
    /// The file as a label map (internal labels), or why it is not one; `None` when
    /// unreadable.
    pub fn labels(&self) -> Option<&AsLabels> {
        self.labels
            .get_or_init(|| {
                self.volume()
                    .map(|v| LabelConvention::detect_to_internal(&v.data).map(Rc::new))
            })
            .as_ref()
    }

    /// The volume, if the file was readable.
    pub fn volume(&self) -> Option<&Rc<Volume>> {
        match &self.contents {
            Contents::Volume { volume, .. } => Some(volume),
            Contents::Unreadable(_) => None,
        }
    }
}

/// The most files a case holds: four modalities and a ground truth.
pub const MAX_FILES: usize = 5;

/// What a segmentation job takes from the case when it starts, so that its result is read
/// on the grid it was computed on even if the user changes the case meanwhile.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The scans the job uses.
    pub availability: Availability,
    /// The header of the job's reference scan ([`Case::reference_among`]): the labels come
    /// back on its grid, and the downloaded file takes it.
    pub grid: Header,
    /// That scan's file name (names the download).
    pub grid_name: String,
    /// The ground truth's internal labels, when a usable one was assigned.
    pub truth: Option<Rc<Vec<u8>>>,
}

/// The files of the case being assembled; `F` is the page's handle of each file.
#[derive(Debug, Clone)]
pub struct Case<F = ()> {
    files: Vec<CaseFile<F>>,
}

impl<F> Default for Case<F> {
    fn default() -> Case<F> {
        Case { files: Vec::new() }
    }
}

impl<F: Clone> Case<F> {
    /// The files, in the order they were added.
    pub fn files(&self) -> &[CaseFile<F>] {
        &self.files
    }

    /// File `id`, if the case has it.
    pub fn file(&self, id: u64) -> Option<&CaseFile<F>> {
        self.files.iter().find(|f| f.id == id)
    }

    /// Adds a file. Its role is the one its name announces when no other file has it, else
    /// the first free modality (a readable file only); it stays unused when all are taken.
    pub fn add(&mut self, id: u64, name: String, contents: Contents, source: F) {
        let free = |role: Role| self.holder(role).is_none();
        let role = match (&contents, Role::from_file_name(&name)) {
            (Contents::Unreadable(_), named) => named.filter(|&r| free(r)),
            (_, Some(named)) if free(named) => Some(named),
            (_, _) => Role::ALL[..4].iter().copied().find(|&r| free(r)),
        };
        self.files.push(CaseFile {
            id,
            name,
            role,
            contents,
            source,
            labels: Rc::default(),
        });
    }

    /// Gives file `id` the role `role` (or none); a file that had that role loses it.
    pub fn set_role(&mut self, id: u64, role: Option<Role>) {
        if let Some(role) = role {
            for f in &mut self.files {
                if f.role == Some(role) && f.id != id {
                    f.role = None;
                }
            }
        }
        if let Some(f) = self.files.iter_mut().find(|f| f.id == id) {
            f.role = role;
        }
    }

    /// Removes file `id`.
    pub fn remove(&mut self, id: u64) {
        self.files.retain(|f| f.id != id);
    }

    /// Removes every file.
    pub fn clear(&mut self) {
        self.files.clear();
    }

    /// The file that has `role`.
    pub fn holder(&self, role: Role) -> Option<&CaseFile<F>> {
        self.files.iter().find(|f| f.role == Some(role))
    }

    /// The readable scan of each modality among `wanted`, in [`Modality::ALL`] order.
    fn readable(&self, wanted: Availability) -> [Option<&CaseFile<F>>; 4] {
        Modality::ALL.map(|m| {
            self.holder(Role::Image(m))
                .filter(|f| wanted.has(m) && f.volume().is_some())
        })
    }

    /// The reference scan among the readable scans of `wanted`: the one whose grid the labels
    /// come back on (`adamm_volume::align::reference_scan`: the finest; the worker picks the
    /// same among the scans it is given).
    pub fn reference_among(&self, wanted: Availability) -> Option<&CaseFile<F>> {
        let files = self.readable(wanted);
        let volumes = files.map(|f| f.and_then(|f| f.volume().map(|v| v.as_ref())));
        reference_scan(volumes).and_then(|i| files[i])
    }

    /// The reference scan of all the readable scans: the grid the views show and the
    /// ground truth must be on.
    pub fn reference_scan(&self) -> Option<&CaseFile<F>> {
        self.reference_among(Availability::from_present([true; 4]))
    }

    /// What is wrong with file `id`, as shown next to it; `None` when it can be used as
    /// assigned (an unassigned readable file has no problem). Scans may be on different grids
    /// (the worker aligns them); a ground truth must be on the reference scan's grid.
    pub fn problem(&self, id: u64) -> Option<String> {
        let file = self.files.iter().find(|f| f.id == id)?;
        let volume = match &file.contents {
            Contents::Unreadable(why) => return Some(why.clone()),
            Contents::Volume { volume, .. } => volume,
        };
        let role = file.role?;
        if role == Role::Truth {
            if let Some(reference) = self.reference_scan() {
                let theirs = reference.volume().map(|v| &v.header)?;
                if let Err(e) =
                    check_same_grid((&reference.name, theirs), (&file.name, &volume.header))
                {
                    return Some(format!(
                        "a ground truth must be on the grid of the finest scan, where the labels \
                         are written: {e}"
                    ));
                }
            }
            if let Some(Err(e)) = file.labels() {
                return Some(format!("not a BraTS label map: {e}"));
            }
        }
        None
    }

    /// The modalities that are assigned to a readable file.
    pub fn availability(&self) -> Availability {
        Availability::from_present(Modality::ALL.map(|m| {
            self.holder(Role::Image(m))
                .is_some_and(|f| self.problem(f.id).is_none())
        }))
    }

    /// The usable file of each modality, in [`Modality::ALL`] order.
    pub fn images(&self) -> [Option<&CaseFile<F>>; 4] {
        let available = self.availability();
        Modality::ALL.map(|m| {
            if available.has(m) {
                self.holder(Role::Image(m))
            } else {
                None
            }
        })
    }

    /// The ground truth's internal labels, when a usable truth file is assigned.
    pub fn truth(&self) -> Option<Rc<Vec<u8>>> {
        let f = self.holder(Role::Truth)?;
        if self.problem(f.id).is_some() {
            return None;
        }
        f.labels()?.as_ref().ok().cloned()
    }

    /// What a job segmenting the usable scans among `wanted` takes from the case now, with
    /// the handles of those scans' files (in [`Modality::ALL`] order) to post to the worker;
    /// `None` when none of `wanted` is usable.
    pub fn snapshot(&self, wanted: Availability) -> Option<(Snapshot, [Option<F>; 4])> {
        let images = self.images();
        let used = Modality::ALL.map(|m| images[m.index()].filter(|_| wanted.has(m)));
        let availability = Availability::from_present(used.map(|f| f.is_some()));
        if availability.is_empty() {
            return None;
        }
        let reference = self.reference_among(availability)?;
        let grid = reference.volume()?.header.clone();
        // A truth on another grid than this job's reference cannot score it.
        let truth_on_grid = self.holder(Role::Truth).is_some_and(|f| {
            f.volume().is_some_and(|v| {
                check_same_grid((&reference.name, &grid), (&f.name, &v.header)).is_ok()
            })
        });
        let snapshot = Snapshot {
            availability,
            grid,
            grid_name: reference.name.clone(),
            truth: self.truth().filter(|_| truth_on_grid),
        };
        Some((snapshot, used.map(|f| f.map(|f| f.source.clone()))))
    }

    /// Why the case cannot be segmented yet, or `None` when it can.
    pub fn not_ready(&self) -> Option<String> {
        if self.availability().is_empty() {
            Some(
                "Add at least one MRI scan (T1, T1Gd, T2 or FLAIR) that reads as a 3-D NIfTI \
                 volume."
                    .to_owned(),
            )
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adamm_volume::nifti_io::{Datatype, Header};
    use adamm_volume::Affine;

    fn volume(dims: [usize; 3], affine: Affine, value: f32) -> Contents {
        let n = dims.iter().product();
        let header = Header::from_affine(dims, Datatype::F32, &affine);
        Contents::Volume {
            volume: Rc::new(Volume::new(vec![value; n], header).unwrap()),
            size: 0,
        }
    }

    fn scan() -> Contents {
        volume([4, 5, 6], Affine::IDENTITY, 1.0)
    }

    fn roles(case: &Case) -> Vec<Option<&'static str>> {
        case.files()
            .iter()
            .map(|f| f.role.map(Role::name))
            .collect()
    }

    #[test]
    fn brats_names_pick_their_roles_in_any_order() {
        let mut case: Case = Case::default();
        for (id, name) in [
            "BraTS-GLI-00001-000-seg.nii.gz",
            "BraTS-GLI-00001-000-t2f.nii.gz",
            "BraTS-GLI-00001-000-t1c.nii.gz",
            "BraTS-GLI-00001-000-t1n.nii",
            "BraTS-GLI-00001-000-t2w.nii.gz",
        ]
        .into_iter()
        .enumerate()
        {
            let contents = if name.ends_with("seg.nii.gz") {
                volume([4, 5, 6], Affine::IDENTITY, 2.0)
            } else {
                scan()
            };
            case.add(id as u64, name.into(), contents, ());
        }
        assert_eq!(
            roles(&case),
            [
                Some("ground truth"),
                Some("FLAIR"),
                Some("T1Gd"),
                Some("T1"),
                Some("T2")
            ]
        );
        assert_eq!(case.availability().code(), "1111");
        assert!(case.files().iter().all(|f| case.problem(f.id).is_none()));
        assert_eq!(case.truth().map(|t| t[0]), Some(2));
        assert_eq!(case.not_ready(), None);
    }

    #[test]
    fn brats_2021_names_and_unnamed_files() {
        let mut case: Case = Case::default();
        case.add(0, "BraTS2021_00000_flair.nii.gz".into(), scan(), ());
        case.add(1, "scan-a.nii.gz".into(), scan(), ());
        case.add(2, "scan-b.nii".into(), scan(), ());
        case.add(3, "BraTS2021_00000_t1ce.nii.gz".into(), scan(), ());
        // Unnamed files fill the first free modalities; the T1ce file finds T1Gd taken and
        // gets the next free one.
        assert_eq!(
            roles(&case),
            [Some("FLAIR"), Some("T1"), Some("T1Gd"), Some("T2")]
        );
        // The user gives the T1ce file its role back: scan-b loses it.
        case.set_role(3, Some(Role::Image(Modality::T1Gd)));
        assert_eq!(
            roles(&case),
            [Some("FLAIR"), Some("T1"), None, Some("T1Gd")]
        );
        case.set_role(2, Some(Role::Image(Modality::T2)));
        assert_eq!(case.availability().code(), "1111");
        case.remove(0);
        assert_eq!(case.availability().code(), "1110");
    }

    #[test]
    fn problems_are_named_next_to_the_file() {
        let mut case: Case = Case::default();
        case.add(0, "a-t1n.nii.gz".into(), scan(), ());
        case.add(
            1,
            "broken-t2w.nii.gz".into(),
            Contents::Unreadable("the file ends after 200 bytes".into()),
            (),
        );
        case.add(
            4,
            "d-seg.nii.gz".into(),
            volume([4, 5, 6], Affine::IDENTITY, 7.0),
            (),
        );
        assert_eq!(case.problem(0), None);
        assert_eq!(
            case.problem(1).as_deref(),
            Some("the file ends after 200 bytes")
        );
        let labels = case.problem(4).unwrap();
        assert!(labels.contains("label value 7"), "{labels}");
        // Only the good T1 counts; the broken T2 keeps its role so the user sees why.
        assert_eq!(case.availability().code(), "1000");
        assert_eq!(case.files()[1].role, Some(Role::Image(Modality::T2)));
        assert_eq!(case.truth(), None);
        assert!(case.images()[3].is_none());
    }

    #[test]
    fn scans_on_other_grids_are_used_and_the_finest_is_the_reference() {
        for coarse_first in [false, true] {
            let mut case: Case = Case::default();
            // A 2-D-style FLAIR: 1 × 1 × 5 mm slices, on its own grid.
            let coarse = volume([4, 5, 2], Affine::from_spacing([1.0, 1.0, 5.0]), 1.0);
            if coarse_first {
                case.add(9, "x-t2f.nii.gz".into(), coarse.clone(), ());
            }
            case.add(1, "x-t1c.nii.gz".into(), scan(), ());
            if !coarse_first {
                case.add(9, "x-t2f.nii.gz".into(), coarse, ());
            }
            assert_eq!(case.reference_scan().map(|f| f.id), Some(1));
            assert_eq!(case.problem(9), None);
            assert_eq!(case.availability().code(), "0101");
            // Alone, the FLAIR is its own reference.
            let flair = Availability::parse("0001").unwrap();
            assert_eq!(case.reference_among(flair).map(|f| f.id), Some(9));
        }
    }

    #[test]
    fn a_ground_truth_off_the_reference_grid_is_flagged() {
        let mut case: Case = Case::default();
        case.add(0, "a-t1c.nii.gz".into(), scan(), ());
        case.add(
            1,
            "a-seg.nii.gz".into(),
            volume([4, 5, 7], Affine::IDENTITY, 2.0),
            (),
        );
        let problem = case.problem(1).unwrap();
        assert!(
            problem.contains("finest scan") && problem.contains("a-t1c.nii.gz"),
            "{problem}"
        );
        assert_eq!(case.truth(), None);
    }

    #[test]
    fn nothing_usable_means_not_ready() {
        let mut case: Case = Case::default();
        assert!(case.not_ready().is_some());
        case.add(
            0,
            "x.nii".into(),
            Contents::Unreadable("not NIfTI".into()),
            (),
        );
        assert!(case.not_ready().is_some());
        assert_eq!(case.files()[0].role, None);
        case.add(1, "y.nii".into(), scan(), ());
        assert_eq!(case.not_ready(), None);
        case.clear();
        assert!(case.files().is_empty());
    }

    #[test]
    fn a_snapshot_takes_the_grid_the_truth_and_the_files_switched_on() {
        let mut case: Case<&'static str> = Case::default();
        case.add(0, "a-t1n.nii.gz".into(), scan(), "t1 file");
        case.add(1, "a-t2f.nii.gz".into(), scan(), "flair file");
        case.add(
            2,
            "a-seg.nii.gz".into(),
            volume([4, 5, 6], Affine::IDENTITY, 2.0),
            "truth file",
        );
        case.add(
            3,
            "odd-t2w.nii.gz".into(),
            volume([4, 5, 7], Affine::IDENTITY, 1.0),
            "odd file",
        );
        // T1 is switched off; T2 is on another grid and posted all the same (the worker aligns
        // it); the labels come back on the reference of the scans posted.
        let wanted = Availability::parse("0111").unwrap();
        let (snapshot, files) = case.snapshot(wanted).unwrap();
        assert_eq!(snapshot.availability.code(), "0011");
        assert_eq!(files, [None, None, Some("odd file"), Some("flair file")]);
        // The two are alike but for the T2's extra slice: the tie goes to the modality order.
        assert_eq!(snapshot.grid_name, "odd-t2w.nii.gz");
        assert_eq!(snapshot.grid.dims, [4, 5, 7]);
        // The truth is on the T1's grid, not this job's: it cannot score it.
        assert_eq!(snapshot.truth, None);
        let (snapshot, _) = case.snapshot(Availability::parse("0001").unwrap()).unwrap();
        assert_eq!(snapshot.grid_name, "a-t2f.nii.gz");
        assert_eq!(snapshot.truth.as_deref().map(|t| t[0]), Some(2));
        // Nothing usable switched on: no job.
        assert!(case
            .snapshot(Availability::parse("0100").unwrap())
            .is_none());
    }

    #[test]
    fn role_keys_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::from_key(r.key()), Some(r));
        }
        assert_eq!(Role::from_key("t3"), None);
    }
}
