//! The columns of `rasid export retirements` in each source registry's own format, and where
//! every column's value comes from in Rasid's record.
//!
//! The header names are those of the registries' public retirement exports as shared in
//! `testdata/registry-exports/<registry>/` (Verra: `transactions.csv`; the others:
//! `retirements.csv`), in the same order. The trailing `Unnamed: N` columns of some files are
//! left out: they are an artefact of the tool that saved the files (an empty, unnamed index
//! column), not a column of the registry. Columns Rasid keeps nothing for stay empty rather than
//! being guessed; each is listed here with [`Col::Empty`], so the table is also the documentation
//! of every column's source.

use rasid_import::registry::Format;

/// Where a column's value comes from. The CSV writer in `export.rs` fills each one from a
/// retirement, its issuance, its project and the retiring account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Col {
    /// For credits imported from the registry being written: the registry's own serial of the
    /// retired units, rebuilt from their Rasid serials through the region mapping
    /// (`rasid_import::registry::space`) and formatted by `rasid_import::serials`, so it parses
    /// back. For every other credit: Rasid's serial ranges, `first-last;first-last`.
    /// Cercarbono's serial names the issuance only; its units are in [`Col::From`]/[`Col::To`].
    Serial,
    /// Cercarbono `from`: the first unit (of the source issuance when imported from Cercarbono,
    /// else the first Rasid serial).
    From,
    /// Cercarbono `to`: the last unit, as for [`Col::From`].
    To,
    /// Tonnes retired (one serial is one tonne).
    Quantity,
    /// The issuance's vintage year.
    Vintage,
    /// Verra's vintage period start/end, from the imported Verra serial; empty otherwise
    /// (Rasid records a vintage year, not a period).
    VintageStart,
    VintageEnd,
    /// The retirement date: the source registry's date for imported retirements (kept in the
    /// note as `retired DATE at …`), else the date Rasid recorded the retirement (UTC). Written
    /// `YYYY-MM-DD`.
    RetiredDate,
    /// The same date as `MM/DD/YYYY`, the way ACR, CAR and ART TREES write it.
    RetiredDateUs,
    /// The date Rasid recorded the issuance (for imported credits, the import), `YYYY-MM-DD`.
    IssuedDate,
    /// The same date as `MM/DD/YYYY`.
    IssuedDateUs,
    /// The project's id as Rasid registered it (`ACR1129`, `CAR1335`, `ART130`).
    ProjectId,
    /// The project's number without the program prefix Rasid adds on import (`VCS1340` →
    /// `1340`, `GS11603` → `11603`, `CDC-1` → `1`).
    ProjectNumber,
    ProjectName,
    Country,
    Region,
    ProjectType,
    Methodology,
    /// The developer organization's name.
    Developer,
    /// `Reduction` or `Removal`, from the project's effect.
    Effect,
    Beneficiary,
    UsingEntity,
    /// The source field of this name kept in an imported retirement's note (`; reason: …`);
    /// for other retirements the Rasid value named by the second element.
    Source(&'static str, Fallback),
    /// A constant the registry writes on every retirement row (`Retired`).
    Constant(&'static str),
    /// `Yes` when the issuance carries the ICVCM CCP label, else `No`.
    Ccp,
    /// Not recorded in Rasid: empty.
    Empty,
}

/// What a [`Col::Source`] column holds when the retirement was not imported with that field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Rasid's purpose (`voluntary`, `corsia`, `ndc`, `other`).
    Purpose,
    /// Rasid's retirement note.
    Note,
    /// The retiring account's organization name.
    AccountHolder,
    Nothing,
}

use Col::*;
use Fallback::{AccountHolder as HolderFb, Note as NoteFb, Nothing, Purpose as PurposeFb};

const VERRA: &[(&str, Col)] = &[
    ("Issuance Date", IssuedDate),
    ("Sustainable Development Goals", Empty),
    ("Vintage Start", VintageStart),
    ("Vintage End", VintageEnd),
    ("ID", ProjectNumber),
    ("Name", ProjectName),
    ("Country/Area", Country),
    ("Project Type", ProjectType),
    ("Methodology", Methodology),
    ("Total Vintage Quantity", Empty),
    ("Quantity Issued", Quantity),
    ("Serial Number", Serial),
    ("Additional Certifications", Source("certifications", Nothing)),
    ("Retirement/Cancellation Date", RetiredDate),
    ("Retirement Beneficiary", Beneficiary),
    ("Retirement Reason", Source("reason", PurposeFb)),
    ("Retirement Details", Source("details", NoteFb)),
];

const GOLD_STANDARD: &[(&str, Col)] = &[
    ("Vintage", Vintage),
    ("Credit Status", Constant("Retired")),
    ("Quantity", Quantity),
    ("GSID", ProjectNumber),
    ("Project Name", ProjectName),
    ("Project Developer", Developer),
    ("Country", Country),
    ("Product Type", Empty),
    ("Project Type", ProjectType),
    ("Methodology", Methodology),
    ("Programme of Activities", Empty),
    ("POA GSID", Empty),
    ("Issuance Date", IssuedDate),
    ("Retirement Date", RetiredDate),
    ("Monitoring Period Start", Empty),
    ("Monitoring Period End", Empty),
    ("Serial Number", Serial),
    ("Note", Source("note", NoteFb)),
    ("Aeroplane Operator Name", Source("aeroplane operator", Nothing)),
    ("Label", Empty),
    ("Use Case", Source("use case", PurposeFb)),
    ("Using Entity", UsingEntity),
    ("Article Six Authorization", Empty),
];

const ACR: &[(&str, Col)] = &[
    ("fiid", Empty),
    ("Credit Serial Numbers", Serial),
    ("Date Issued (GMT)", IssuedDateUs),
    ("Vintage", Vintage),
    ("Vintage Assignment Period Start Date", Empty),
    ("Vintage Assignment Period End Date", Empty),
    ("Quantity of Credits", Quantity),
    ("Account Holder", Source("account holder", HolderFb)),
    ("Status Effective (GMT)", RetiredDateUs),
    ("Retired on Behalf of", Beneficiary),
    ("Retirement Reason", Source("reason", PurposeFb)),
    ("Purpose of Retirement", Source("details", NoteFb)),
    ("Project ID", ProjectId),
    ("Project Name", ProjectName),
    ("Project Type", ProjectType),
    ("Project Methodology/Protocol", Methodology),
    ("Methodology/Protocol Version", Empty),
    ("Project Site Location", Empty),
    ("Project Site State", Region),
    ("Project Site Country", Country),
    ("ARB Eligible", Empty),
    ("Ecology Eligible", Empty),
    ("CORSIA Eligible", Empty),
    ("Eligible for CORSIA 2021-2023 Compliance Period (Pilot Phase)", Empty),
    ("Eligible for CORSIA 2024-2026 Compliance Period (First Phase)", Empty),
    ("CCP Approved", Ccp),
    ("Verified Removal", Empty),
    ("Sustainable Development Goal(s)", Empty),
    ("Project Website", Empty),
    ("Documents", Empty),
    ("Numberoffiles", Empty),
];

const CAR: &[(&str, Col)] = &[
    ("Vintage", Vintage),
    ("Offset Credit Serial Numbers", Serial),
    ("Quantity of Offset Credits", Quantity),
    ("Status Effective", RetiredDateUs),
    ("Project ID", ProjectId),
    ("Project Name", ProjectName),
    ("Project Type", ProjectType),
    ("Reduction/Removal", Effect),
    ("Reversible/Non-Reversible", Empty),
    ("Protocol and Version", Methodology),
    ("Project Site Location", Empty),
    ("Project Site State", Region),
    ("Project Site Country", Country),
    ("Activity Area Type", Empty),
    ("Additional Certification(s)", Empty),
    ("Eligible for CORSIA 2021-2023 Compliance Period", Empty),
    ("Eligible for CORSIA 2024-2026 Compliance Period", Empty),
    ("Corresponding Adjustment", Empty),
    ("CCP Approved", Ccp),
    ("Account Holder", Source("account holder", HolderFb)),
    ("Retirement Reason", Source("reason", PurposeFb)),
    ("Retirement Reason Details", Source("details", NoteFb)),
];

const ART: &[(&str, Col)] = &[
    ("Vintage", Vintage),
    ("Credit Serial Numbers", Serial),
    ("Quantity of Credits", Quantity),
    ("Status Effective", RetiredDateUs),
    ("Eligible for CORSIA 2021-2023 Compliance Period (Pilot Phase)", Empty),
    ("Eligible for CORSIA 2024-2026 Compliance Period (First Phase)", Empty),
    ("CCP Approved", Ccp),
    ("Program ID", ProjectId),
    ("Program Name", ProjectName),
    ("Program Type", ProjectType),
    ("Crediting Program and Standard", Methodology),
    ("Standard Version", Empty),
    ("Program Jurisdiction(s)", Region),
    // Two spaces, exactly as ART TREES' export writes this header.
    ("Program  Country", Country),
    ("Date Approved", Empty),
    ("Account Holder", Source("account holder", HolderFb)),
    ("Retired on Behalf of", Beneficiary),
    ("Retirement Reason", Source("reason", PurposeFb)),
    ("Purpose of Retirement", Source("details", NoteFb)),
];

const CERCARBONO: &[(&str, Col)] = &[
    ("project_name", ProjectName),
    ("project_id", ProjectNumber),
    ("serial", Serial),
    ("vintage", Vintage),
    ("certificate_destination", Source("destination", PurposeFb)),
    ("end_user", Beneficiary),
    ("passive_subject", Source("passive subject", Nothing)),
    ("date", RetiredDate),
    ("quantity", Quantity),
    ("public_consult", Empty),
    ("from", From),
    ("to", To),
    ("industry", Source("industry", Nothing)),
];

/// The columns of `format`'s retirement export; `None` for Isometric, whose public data is an
/// API of retirement records without serial numbers, not a file Rasid can write back.
pub fn columns(format: Format) -> Option<&'static [(&'static str, Col)]> {
    match format {
        Format::Verra => Some(VERRA),
        Format::GoldStandard => Some(GOLD_STANDARD),
        Format::Acr => Some(ACR),
        Format::Car => Some(CAR),
        Format::Art => Some(ART),
        Format::Cercarbono => Some(CERCARBONO),
        Format::Isometric => None,
    }
}

/// Every source field name an importer writes into a retirement note, so that a field's value
/// can be cut where the next field starts even when the value itself contains `; `.
pub const NOTE_FIELDS: &[&str] = &[
    "reason",
    "details",
    "certifications",
    "note",
    "use case",
    "aeroplane operator",
    "account holder",
    "destination",
    "passive subject",
    "industry",
    "owner",
    "purposes",
    "notes",
    "sequestered on",
    "kilograms",
];
