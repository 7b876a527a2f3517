//! Events: what an accepted command did, for replies, read models and market data.

use crate::ids::{AccountId, CancellationId, IssuanceId, OrgId, ProjectId, RetirementId};
use crate::money::Currency;
use crate::serial::{RangeSet, SerialRange};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    OrganizationCreated {
        org: OrgId,
    },
    AccountOpened {
        account: AccountId,
        org: OrgId,
    },
    ProjectRegistered {
        project: ProjectId,
    },
    Issued {
        issuance: IssuanceId,
        project: ProjectId,
        block: SerialRange,
        to_account: AccountId,
        /// The top of the block, when a buffer contribution was made.
        buffer: Option<SerialRange>,
    },
    LabelsSet {
        issuance: IssuanceId,
    },
    Transferred {
        from: AccountId,
        to: AccountId,
        issuance: IssuanceId,
        serials: RangeSet,
    },
    Retired {
        retirement: RetirementId,
        account: AccountId,
        issuance: IssuanceId,
        serials: RangeSet,
    },
    Cancelled {
        cancellation: CancellationId,
        account: AccountId,
        issuance: IssuanceId,
        serials: RangeSet,
    },
    CashDeposited {
        account: AccountId,
        currency: Currency,
        amount_minor: i64,
    },
    CashWithdrawn {
        account: AccountId,
        currency: Currency,
        amount_minor: i64,
    },
    CashTransferred {
        from: AccountId,
        to: AccountId,
        currency: Currency,
        amount_minor: i64,
    },
}
