//! Public exports of other carbon registries (Verra, Gold Standard, ACR, CAR, ART TREES,
//! Cercarbono, Isometric) into Rasid: projects, issuance batches at their original serial
//! positions, retirements and cancellations, with a reconciliation of what the files say.
//!
//! Like the VROD reader, this is split into reading (`read`: per-file, per-line rejections,
//! batches inferred from their sub-blocks), planning (`plan`: the commands a phase still needs
//! given the ledger, so a second import plans nothing) and reconciling (`reconcile`). Where the
//! serials land is [`space`]'s business.

mod formats;
mod group;
mod plan;
mod reconcile;
pub mod space;
mod table;
mod text;

pub use group::Batch;
pub use plan::{Planned, already_present, ledger_range, plan, source_key_of_note};
pub use reconcile::{PartialBatch, Reconciliation, Totals, reconcile};
pub use space::Space;

use crate::serials::Serial;
use rasid_core::model::Purpose;

/// The export formats `rasid import registry --format` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    Verra,
    GoldStandard,
    Acr,
    Car,
    Art,
    Isometric,
    Cercarbono,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Verra,
        Format::GoldStandard,
        Format::Acr,
        Format::Car,
        Format::Art,
        Format::Isometric,
        Format::Cercarbono,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Verra => "verra",
            Format::GoldStandard => "gold-standard",
            Format::Acr => "acr",
            Format::Car => "car",
            Format::Art => "art",
            Format::Isometric => "isometric",
            Format::Cercarbono => "cercarbono",
        }
    }

    /// The files of the export, without `.csv` or `.csv.gz`; any may be missing.
    pub fn files(self) -> &'static [&'static str] {
        match self {
            Format::Verra => &["projects", "transactions"],
            Format::GoldStandard | Format::Isometric | Format::Cercarbono => {
                &["projects", "issuances", "retirements"]
            }
            Format::Acr | Format::Car | Format::Art => {
                &["projects", "issuances", "retirements", "cancellations"]
            }
        }
    }

    /// The serial space its blocks land in (Gold Standard files also hold CDM units).
    pub fn space(self) -> Space {
        match self {
            Format::Verra => Space::Verra,
            Format::GoldStandard => Space::GoldStandard,
            Format::Acr => Space::Acr,
            Format::Car => Space::Car,
            Format::Art => Space::Art,
            Format::Isometric => Space::Isometric,
            Format::Cercarbono => Space::Cercarbono,
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Format::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown format {s:?} ({})", names.join(", "))
        })
    }
}

/// One file of an export, already decompressed. `name` is how reports name it.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Which of [`Format::files`] it is.
    pub role: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A row the importer refused, with the file and 1-based line it starts on (the header is
/// line 1) and a stable snake_case code.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RowRejection {
    pub file: String,
    pub line: u64,
    pub code: &'static str,
    pub message: String,
}

/// Where a row came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowRef {
    pub file: String,
    pub line: u64,
}

/// What a block row says happened to its credits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An issuance record: the block exists; it moves nothing.
    Issued,
    /// Still held at the source (Verra rows without a retirement date).
    Held,
    Retired(Retirement),
    Cancelled(Cancellation),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retirement {
    /// As the source wrote it, normalised to YYYY-MM-DD where recognisable.
    pub date: String,
    pub beneficiary: String,
    pub purpose: Purpose,
    pub using_entity: String,
    /// Source fields Rasid has no place for, in the note.
    pub fields: Vec<(&'static str, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cancellation {
    pub date: String,
    pub fields: Vec<(&'static str, String)>,
}

/// A valid row naming a block of credits.
#[derive(Clone, Debug)]
pub struct BlockRow {
    pub at: RowRef,
    pub space: Space,
    /// The source batch: its number, or the issuance's name where there is no number.
    pub batch: String,
    /// The parsed serial, whose fields other than the range are the batch's; `None` for
    /// Isometric.
    pub serial: Option<Serial>,
    /// The serial as written (Isometric: the record's id).
    pub source_key: String,
    /// Unit numbers inside the batch, inclusive; `None` for Isometric retirements, which name
    /// a quantity of a project and no units.
    pub units: Option<(u64, u64)>,
    pub quantity: u64,
    /// Isometric: the part of the row below a whole tonne, not represented in Rasid.
    pub fraction_kg: u64,
    /// Isometric issuances: tonnes of the block that go to the buffer pool.
    pub buffer_tonnes: u64,
    pub project: String,
    pub vintage: u16,
    pub kind: Kind,
}

/// A project as the export describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectRow {
    pub at: RowRef,
    pub space: Space,
    pub external_id: String,
    pub name: String,
    pub developer: String,
    pub country: String,
    pub methodology: String,
    pub project_type: String,
    pub region: String,
    pub removal: bool,
    /// From the export's projects file (a row of its own), not inferred from a block row.
    pub listed: bool,
}

/// Rows per file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileSummary {
    pub name: String,
    pub rows: u64,
    /// Rows that name no serial block (issuance summaries of ACR, CAR, ART): read for project
    /// details only.
    pub informational: u64,
}

/// An export, read and checked.
#[derive(Debug, Default)]
pub struct Parsed {
    pub files: Vec<FileSummary>,
    pub projects: Vec<ProjectRow>,
    pub blocks: Vec<BlockRow>,
    pub batches: Vec<Batch>,
    pub rejections: Vec<RowRejection>,
}

impl Parsed {
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }
}

/// Reads an export's files. Fails only when a file is not the export it should be (missing
/// columns); every bad row becomes a [`RowRejection`] and the rest are read.
pub fn read(format: Format, files: &[SourceFile]) -> Result<Parsed, String> {
    let mut out = formats::read(format, files)?;
    group::group(&mut out);
    out.rejections.sort();
    Ok(out)
}

/// Where a source serial sits: its space, batch, units and what the serial says of its project
/// and vintage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePosition {
    pub space: Space,
    pub batch: String,
    pub units: Option<(u64, u64)>,
    pub project: Option<String>,
    pub vintage: Option<u16>,
}

/// Reads the position from a parsed serial: the same rules the importer places blocks by.
pub fn position(serial: &Serial) -> Result<SourcePosition, (&'static str, String)> {
    use crate::serials::{Registry, Vintage};
    let space = match serial.registry() {
        Registry::Verra => Space::Verra,
        Registry::GoldStandard => Space::GoldStandard,
        Registry::Cdm => Space::Cdm,
        Registry::Acr => Space::Acr,
        Registry::ArtTrees => Space::Art,
        Registry::Car => Space::Car,
        Registry::Cercarbono => Space::Cercarbono,
    };
    let units = serial.block().map(|b| (b.first().value(), b.last().value()));
    let batch = match serial {
        Serial::Cdm(s) => format!("{}-{}", s.party, s.project.value()),
        // Cercarbono's serial names the issuance; its range sits in other columns.
        Serial::Cercarbono(s) => {
            let mut bare = *s;
            bare.block = None;
            bare.to_string()
        }
        other => other.batch().map(|b| b.value().to_string()).unwrap_or_default(),
    };
    if batch.is_empty() {
        return Err(("no_batch", "the serial names no batch".into()));
    }
    if let Some((first, last)) = units
        && last >= space::units_limit(space)
    {
        return Err((space::OUT_OF_RANGE, format!("units {first}..={last} do not fit")));
    }
    let number = match serial {
        Serial::Cdm(s) => space::cdm_party(s.party.as_str()),
        Serial::Cercarbono(_) => Some(0),
        other => other.batch().map(|b| b.value()),
    };
    if !space.slotted() {
        space::batch_base(space, number.unwrap_or(0)).map_err(|m| (space::OUT_OF_RANGE, m))?;
    }
    let p = serial.project();
    let project = match serial {
        Serial::Verra(_) => Some(format!("VCS{p}")),
        Serial::GoldStandard(_) => Some(p),
        Serial::Cdm(_) => None,
        Serial::Acr(_) if space == Space::Art => Some(format!("ART{p}")),
        Serial::Acr(_) => Some(format!("ACR{p}")),
        Serial::Car(_) => Some(format!("CAR{p}")),
        Serial::Cercarbono(_) => Some(format!("CDC-{p}")),
    };
    let vintage = match serial.vintage() {
        Some(Vintage::Year(y)) => Some(y),
        Some(Vintage::Period(p)) => Some(p.start().year()),
        None => None,
    };
    Ok(SourcePosition { space, batch, units, project, vintage })
}

/// The serial with its range replaced by `first..=last` (unit numbers of its batch), for
/// writing a sub-block back in the source's own form.
pub fn with_units(serial: &Serial, first: u64, last: u64) -> Option<Serial> {
    use crate::serials::{Block, Digits};
    let block = Block::new(Digits::new(first), Digits::new(last)).ok()?;
    let mut s = *serial;
    match &mut s {
        Serial::Verra(v) => v.block = block,
        Serial::GoldStandard(v) => v.block = Some(block),
        Serial::Cdm(v) => v.block = block,
        Serial::Acr(v) => v.block = block,
        Serial::Car(v) => v.block = block,
        Serial::Cercarbono(v) => v.block = Some(block),
    }
    Some(s)
}
