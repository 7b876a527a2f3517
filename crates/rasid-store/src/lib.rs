//! Rasid's storage: the hash-chained journal with group commit, snapshots, recovery and
//! verification, behind the [`Journal`] interface (SQLite embedded, or a PostgreSQL server).
//!
//! [`Ledger`] is the single writer: it sequences commands into the engine, makes each batch
//! durable with one commit and answers callers only afterwards.

pub mod checkpoint;
pub mod follower;
pub mod journal;
pub mod lease;
pub mod ledger;
pub mod postgres;
pub mod read_model;
pub mod replay;
mod reply;
pub mod sqlite;
pub mod testing;
pub mod verify;

pub use follower::Follower;
pub use journal::{GENESIS_HASH, Hash, Journal, Record, Snapshot, StoreError};
pub use lease::{Lease, LeaseInfo};
pub use ledger::{
    COMMIT_LATENCY_BUCKETS_US, Clock, Committed, Config, Feed, Ledger, QueueFull, Stats,
    SubmitError, Ticket, system_clock,
};
pub use postgres::{Fence, PostgresJournal, ScratchSchema};
pub use read_model::ReadModels;
pub use replay::{Recovery, recover, replay_committed, replay_from_genesis};
pub use sqlite::SqliteJournal;
pub use verify::{VerifyReport, verify};

/// Where the ledger lives, parsed from a `--database` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;
    /// Accepts `sqlite://PATH`, `sqlite:PATH`, `postgres://…`, `postgresql://…`, or a bare path.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(s.to_owned()));
        }
        let path = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")).unwrap_or(s);
        if path.is_empty() {
            return Err("the database URL names no file".into());
        }
        if path.contains("://") {
            return Err(format!("unsupported database URL {s:?} (sqlite://PATH or postgres://…)"));
        }
        Ok(DatabaseUrl::Sqlite(path.into()))
    }
}

/// Opens the journal a URL names.
pub fn open_journal(url: &DatabaseUrl) -> Result<Box<dyn Journal>, StoreError> {
    match url {
        DatabaseUrl::Sqlite(path) => Ok(Box::new(SqliteJournal::open(path)?)),
        DatabaseUrl::Postgres(url) => Ok(Box::new(PostgresJournal::open(url)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::DatabaseUrl;

    #[test]
    fn database_urls_name_their_backend() {
        let pg = "postgres://rasid@127.0.0.1:5432/ledger?options=-csearch_path%3Dx";
        assert_eq!(pg.parse(), Ok(DatabaseUrl::Postgres(pg.to_owned())));
        let pg = "postgresql://db.example/ledger";
        assert_eq!(pg.parse(), Ok(DatabaseUrl::Postgres(pg.to_owned())));
        assert_eq!("sqlite://a/b.db".parse(), Ok(DatabaseUrl::Sqlite("a/b.db".into())));
        assert_eq!("b.db".parse(), Ok(DatabaseUrl::Sqlite("b.db".into())));
        assert!("mysql://x/y".parse::<DatabaseUrl>().is_err());
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
    }
}
