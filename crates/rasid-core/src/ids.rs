//! Identifiers. The engine assigns them in sequence, so replay reproduces them exactly.

/// Declares an id newtype over `u64` that prints with a prefix (`org3`) and parses with or
/// without it. Every id in the ledger is one of these.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        pub struct $name(pub u64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }

        impl $name {
            /// `42` or the prefixed form `org42` that `Display` prints, without building an
            /// error: for callers that try an id first and fall back to a name (symbols), on
            /// every request.
            pub fn parse_id(s: &str) -> Option<Self> {
                let digits = s.strip_prefix($prefix).unwrap_or(s);
                digits.parse::<u64>().ok().filter(|n| *n > 0).map($name)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            /// Accepts `42` or the prefixed form `org42` that `Display` prints.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse_id(s).ok_or_else(|| format!("not a {} id: {s:?}", stringify!($name)))
            }
        }
    };
}
pub(crate) use id_type;

id_type!(
    /// An organization: operator, registrar, member or auditor.
    OrgId, "org"
);
id_type!(
    /// A holding account (credits and cash) of one organization.
    AccountId, "acc"
);
id_type!(
    /// A registered project.
    ProjectId, "prj"
);
id_type!(
    /// One vintage batch of one project, with its serial block.
    IssuanceId, "iss"
);
id_type!(
    /// An irreversible retirement of serials on behalf of a beneficiary.
    RetirementId, "ret"
);
id_type!(
    /// A cancellation of serials by the registrar or the holder.
    CancellationId, "can"
);
