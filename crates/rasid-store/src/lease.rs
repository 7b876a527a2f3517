//! The writer lease for high availability on PostgreSQL: several `rasid serve` processes share
//! one database, and the one holding the lease is the only writer.
//!
//! The lease is one row of `rasid_lease`: the holder, its term and when it expires. Expiry is
//! measured on the database's clock (`now()`), so the processes' clocks never have to agree.
//! The holder renews the row well before it expires; anybody else may take it over once it has
//! expired, which raises the term by one. Safety does not rest on timing: every append checks,
//! inside its own transaction, that the row still carries the appender's term
//! ([`crate::postgres::Fence`]), so a writer that was paused or cut off past its expiry finds
//! the term moved on and writes nothing. Timing only decides how soon a follower takes over.
//!
//! SQLite is an embedded, single-process database: the lease exists only on PostgreSQL.

use crate::journal::StoreError;
use crate::postgres::connect;
use postgres::Client;

/// Most a lease may last: a writer that dies holds up writes for at most this long.
pub const LEASE_TTL_MS_MAX: u64 = 600_000;
/// Least a lease may last: renewals must have time to reach the database.
pub const LEASE_TTL_MS_MIN: u64 = 200;
/// A takeover waits at most this long for an append in flight to release the lease row.
const ACQUIRE_LOCK_TIMEOUT_MS: u64 = 1_000;

/// The lease row as it is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    pub term: i64,
    pub holder: String,
    /// Where the holder serves its API (`--advertise`), for followers to point clients at.
    pub address: String,
    /// Whether it has not expired yet.
    pub live: bool,
}

/// One process's handle on the lease: its own connection, its identity and its lease length.
pub struct Lease {
    client: Client,
    holder: String,
    address: String,
    ttl_ms: i64,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("holder", &self.holder).field("ttl_ms", &self.ttl_ms).finish()
    }
}

impl Lease {
    /// Connects to the database `url` names, whose journal schema must already exist (open a
    /// [`crate::PostgresJournal`] first). `holder` names this process uniquely; `address` is
    /// where it serves.
    pub fn connect(
        url: &str,
        holder: &str,
        address: &str,
        ttl_ms: u64,
    ) -> Result<Self, StoreError> {
        if !(LEASE_TTL_MS_MIN..=LEASE_TTL_MS_MAX).contains(&ttl_ms) {
            return Err(StoreError::Unsupported(format!(
                "a lease lasts {LEASE_TTL_MS_MIN}–{LEASE_TTL_MS_MAX} ms, not {ttl_ms}"
            )));
        }
        let mut client = connect(url)?;
        client.batch_execute(&format!("SET lock_timeout = {ACQUIRE_LOCK_TIMEOUT_MS}"))?;
        let ttl_ms = i64::try_from(ttl_ms).expect("bounded above");
        Ok(Self { client, holder: holder.to_owned(), address: address.to_owned(), ttl_ms })
    }

    pub fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl_ms).expect("positive")
    }

    /// Takes the lease if it has expired (or was released), under the next term, which it
    /// returns; `None` while somebody else holds it. The `UPDATE` waits for an append in flight
    /// (which holds the row `FOR SHARE`), so when it returns every append of the old term has
    /// either committed or will fail its fence.
    pub fn try_acquire(&mut self) -> Result<Option<i64>, StoreError> {
        let row = self.client.query_opt(
            "UPDATE rasid_lease
             SET term = term + 1, holder = $1, address = $2,
                 expires_at = now() + $3::BIGINT * INTERVAL '1 millisecond'
             WHERE id = 1 AND expires_at <= now()
             RETURNING term",
            &[&self.holder, &self.address, &self.ttl_ms],
        )?;
        row.map(|r| r.try_get(0)).transpose().map_err(StoreError::from)
    }

    /// Extends the lease of `term` by a full length. `false` when the row has another term: the
    /// lease was taken over and this process must stop writing (its appends would fail anyway).
    pub fn renew(&mut self, term: i64) -> Result<bool, StoreError> {
        let updated = self.client.execute(
            "UPDATE rasid_lease SET expires_at = now() + $2::BIGINT * INTERVAL '1 millisecond'
             WHERE id = 1 AND term = $1",
            &[&term, &self.ttl_ms],
        )?;
        Ok(updated == 1)
    }

    /// Gives the lease of `term` up at once (graceful shutdown), so a follower need not wait
    /// for it to expire. Does nothing if the term has moved on.
    pub fn release(&mut self, term: i64) -> Result<(), StoreError> {
        self.client.execute(
            "UPDATE rasid_lease SET expires_at = '-infinity' WHERE id = 1 AND term = $1",
            &[&term],
        )?;
        Ok(())
    }

    /// The lease row now.
    pub fn current(&mut self) -> Result<LeaseInfo, StoreError> {
        let row = self.client.query_one(
            "SELECT term, holder, address, expires_at > now() FROM rasid_lease WHERE id = 1",
            &[],
        )?;
        Ok(LeaseInfo {
            term: row.try_get(0)?,
            holder: row.try_get(1)?,
            address: row.try_get(2)?,
            live: row.try_get(3)?,
        })
    }
}
