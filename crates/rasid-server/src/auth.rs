//! Users and sessions. They are not ledger state (logging in is not a registry event), so they
//! live in tables of their own beside the journal: in the same SQLite file, or in the same
//! PostgreSQL database and schema (shared by every server of a highly available deployment). Passwords are stored
//! as argon2id PHC strings; session tokens are random and stored only as their SHA-256, so a
//! copy of the database does not let anyone log in.
//!
//! API keys (`rk_…`) are for programs: random secrets shown once at creation, stored only as
//! their SHA-256 (with a short prefix kept to tell keys apart), usable wherever a session token
//! is, and revocable. A key acts as the user who made it.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rasid_core::OrgId;
use rasid_store::DatabaseUrl;
use rasid_store::postgres::{
    MIGRATION_LOCK_KEY, Migration, apply_migrations, connect, first_incompatible_step_sql,
    incompatible_step,
};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::sync::Mutex;

/// How long a session token stays valid.
pub const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;
/// Longer passwords are refused before hashing, so a huge body cannot buy a long argon2 run.
pub const PASSWORD_LEN_MAX: usize = 1_024;
pub const PASSWORD_LEN_MIN: usize = 8;
pub const USERNAME_LEN_MAX: usize = 64;

#[derive(Debug)]
pub struct Users {
    db: Db,
    /// The hash of a random password nobody knows, verified against for unknown usernames.
    dummy_phc: String,
}

#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    pub org: OrgId,
}

/// What every API key secret starts with, so a token's kind is known without a look-up.
pub const API_KEY_PREFIX: &str = "rk_";
/// Most live (unrevoked) keys one user may hold.
pub const API_KEYS_PER_USER_MAX: i64 = 32;
pub const API_KEY_NAME_LEN_MAX: usize = 64;

/// An API key as listed: never its secret.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: u64,
    pub name: String,
    /// The secret's first characters, to tell keys apart.
    pub prefix: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

#[derive(Debug)]
pub enum AuthError {
    /// The username is taken.
    Exists,
    /// Storage trouble; the text is for the log only.
    Storage(String),
}

impl From<rusqlite::Error> for AuthError {
    fn from(e: rusqlite::Error) -> Self {
        AuthError::Storage(e.to_string())
    }
}

impl From<postgres::Error> for AuthError {
    fn from(e: postgres::Error) -> Self {
        AuthError::Storage(rasid_store::StoreError::from(e).to_string())
    }
}

impl Users {
    pub fn open(database: &DatabaseUrl) -> Result<Self, String> {
        let db = match database {
            DatabaseUrl::Sqlite(path) => Db::open_sqlite(path)?,
            DatabaseUrl::Postgres(url) => Db::open_postgres(url)?,
        };
        let dummy = hex(&random_bytes::<16>().map_err(|e| format!("{e:?}"))?);
        let dummy_phc = hash_password(&dummy).map_err(|e| format!("{e:?}"))?;
        Ok(Self { db, dummy_phc })
    }

    pub fn is_empty(&self) -> Result<bool, AuthError> {
        Ok(self.db.user_count()? == 0)
    }

    /// Creates a user. Blocking: argon2 takes tens of milliseconds on purpose.
    pub fn create(
        &self,
        username: &str,
        password: &str,
        org: OrgId,
        now_ms: i64,
    ) -> Result<(), AuthError> {
        let phc = hash_password(password)?;
        if self.db.insert_user(username, org, &phc, now_ms)? {
            Ok(())
        } else {
            Err(AuthError::Exists)
        }
    }

    /// Checks a password and opens a session; returns the token, shown only this once.
    /// Unknown users cost an argon2 run too, so timing does not reveal which usernames exist.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        now_ms: i64,
    ) -> Result<Option<String>, AuthError> {
        let stored = self.db.password_phc(username)?;
        let phc = stored.clone().unwrap_or_else(|| self.dummy_phc.clone());
        let parsed =
            PasswordHash::new(&phc).map_err(|e| AuthError::Storage(format!("stored hash: {e}")))?;
        let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        if !ok || stored.is_none() {
            return Ok(None);
        }
        let token_bytes = random_bytes::<32>()?;
        let token = hex(&token_bytes);
        self.db.insert_session(&token_hash(&token), username, now_ms + SESSION_TTL_MS)?;
        Ok(Some(token))
    }

    pub fn end_session(&self, token: &str) -> Result<(), AuthError> {
        self.db.delete_session(&token_hash(token))
    }

    /// The user a bearer token belongs to, if the session exists and has not expired.
    pub fn session(&self, token: &str, now_ms: i64) -> Result<Option<User>, AuthError> {
        self.db.session_user(&token_hash(token), now_ms)
    }

    /// The user a bearer token — a session token or an API key — belongs to.
    pub fn user_for_token(&self, token: &str, now_ms: i64) -> Result<Option<User>, AuthError> {
        if token.starts_with(API_KEY_PREFIX) {
            self.db.api_key_user(&token_hash(token))
        } else {
            self.session(token, now_ms)
        }
    }

    /// Creates an API key for `username`; returns it and its secret, which is shown only now.
    /// `None` when the user already holds [`API_KEYS_PER_USER_MAX`] live keys.
    pub fn create_api_key(
        &self,
        username: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<Option<(ApiKey, String)>, AuthError> {
        let secret = format!("{API_KEY_PREFIX}{}", hex(&random_bytes::<32>()?));
        let prefix: String = secret.chars().take(API_KEY_PREFIX.len() + 8).collect();
        let Some(id) =
            self.db.insert_api_key(username, name, &prefix, &token_hash(&secret), now_ms)?
        else {
            return Ok(None);
        };
        let key =
            ApiKey { id, name: name.to_owned(), prefix, created_ms: now_ms, revoked_ms: None };
        Ok(Some((key, secret)))
    }

    /// The user's keys, revoked ones included, oldest first.
    pub fn api_keys(&self, username: &str) -> Result<Vec<ApiKey>, AuthError> {
        self.db.api_keys(username)
    }

    /// Revokes one of the user's keys. `false` when the user has no such live key.
    pub fn revoke_api_key(&self, username: &str, id: u64, now_ms: i64) -> Result<bool, AuthError> {
        let Ok(id) = i64::try_from(id) else { return Ok(false) };
        self.db.revoke_api_key(username, id, now_ms)
    }
}

/// What an `Idempotency-Key` has seen before.
#[derive(Debug)]
pub enum Idempotency {
    /// First use: the request runs, and its response is recorded.
    New,
    /// Same key and request, answered before: the recorded (status, body).
    Replay(u16, Vec<u8>),
    /// Same key and request, still running.
    InFlight,
    /// Same key and request, claimed under another writer epoch and never answered: the
    /// writer that ran it stopped (crash, kill, lost lease) between claiming the key and
    /// recording the reply, so whether the command was journaled is unknown here.
    InDoubt,
    /// Same key, another request.
    Mismatch,
}

/// Keys are remembered this long.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// What a stored idempotency key holds: (request fingerprint, status, body, the writer epoch
/// that claimed it; `None` for claims made before epochs were stored).
type IdempotencyRow = (Vec<u8>, Option<i64>, Option<Vec<u8>>, Option<i64>);

/// A fresh writer epoch (see `App::writer_epoch`): 63 random bits, so two writers' epochs do
/// not collide in practice and the value fits a signed column.
pub(crate) fn new_writer_epoch() -> Result<i64, String> {
    let bytes = random_bytes::<8>().map_err(|e| format!("{e:?}"))?;
    Ok(i64::from_le_bytes(bytes) & i64::MAX)
}

impl Users {
    /// Claims `key` for this user and request, or reports what the key already holds. The claim
    /// is an insert, so two concurrent requests with one key cannot both run. An unanswered
    /// claim of another `writer_epoch` than this writer's belongs to a writer that is gone, so
    /// it is reported in doubt rather than still running.
    pub fn idempotency_begin(
        &self,
        username: &str,
        key: &str,
        request: &[u8; 32],
        now_ms: i64,
        writer_epoch: i64,
    ) -> Result<Idempotency, AuthError> {
        let Some((stored, status, body, claimed_by)) =
            self.db.idempotency_claim(username, key, request, now_ms, writer_epoch)?
        else {
            return Ok(Idempotency::New);
        };
        Ok(if stored != request.as_slice() {
            Idempotency::Mismatch
        } else {
            match (status, body) {
                (Some(status), Some(body)) => {
                    Idempotency::Replay(u16::try_from(status).unwrap_or(500), body)
                }
                _ if claimed_by != Some(writer_epoch) => Idempotency::InDoubt,
                _ => Idempotency::InFlight,
            }
        })
    }

    /// Records the response of a claimed key.
    pub fn idempotency_finish(
        &self,
        username: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), AuthError> {
        self.db.idempotency_finish(username, key, status, body)
    }

    /// Releases a claimed key whose request failed on the server's side, so a retry may run.
    pub fn idempotency_abort(&self, username: &str, key: &str) -> Result<(), AuthError> {
        self.db.idempotency_abort(username, key)
    }
}

/// The tables' storage: the SQLite file of the journal, or the PostgreSQL database (and schema)
/// of the journal, which every `rasid serve` of a highly available deployment shares, so a
/// session opened on one process is valid on all. One method per operation, the same SQL idea
/// on both; the connection is behind a mutex because handlers call in from blocking threads.
#[derive(Debug)]
enum Db {
    Sqlite(Mutex<Connection>),
    Postgres(Mutex<PgClient>),
}

/// `postgres::Client` does not implement `Debug`.
struct PgClient(postgres::Client);

impl std::fmt::Debug for PgClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgClient")
    }
}

/// The server tables' schema history on PostgreSQL, applied like the journal's (in order, each
/// once, never edited), recorded in `server_migrations`.
const PG_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        oldest_compatible: 1,
        description: "server users, sessions and idempotency keys",
        sql: "
CREATE TABLE server_users (
    username     TEXT PRIMARY KEY,
    org          BIGINT NOT NULL,
    password_phc TEXT NOT NULL,
    created_ms   BIGINT NOT NULL
);
CREATE TABLE server_idempotency (
    username       TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_sha256 BYTEA NOT NULL,
    created_ms     BIGINT NOT NULL,
    status         INTEGER,
    body           BYTEA,
    PRIMARY KEY (username, key)
);
CREATE TABLE server_sessions (
    token_sha256 BYTEA PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES server_users (username),
    expires_ms   BIGINT NOT NULL
);
",
    },
    Migration {
        version: 2,
        oldest_compatible: 2,
        description: "server API keys",
        sql: "
CREATE TABLE server_api_keys (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT NOT NULL REFERENCES server_users (username),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    secret_sha256 BYTEA NOT NULL UNIQUE,
    created_ms    BIGINT NOT NULL,
    revoked_ms    BIGINT
);
CREATE INDEX server_api_keys_username ON server_api_keys (username);
",
    },
    Migration {
        version: 3,
        // Builds of version 2 name the columns they insert and never read this one. (They
        // predate `oldest_compatible` and refuse any newer schema; builds from this one on do
        // not.)
        oldest_compatible: 2,
        description: "the writer epoch that claimed an idempotency key",
        sql: "ALTER TABLE server_idempotency ADD COLUMN writer_epoch BIGINT;",
    },
];

/// Changes to the SQLite user tables after their first form (`Db::open_sqlite` creates that),
/// each applied once, in order, and recorded in `server_migrations`, as on PostgreSQL. The
/// versions are PostgreSQL's, so one number names one change on both.
const SQLITE_MIGRATIONS: &[Migration] = &[Migration {
    version: 3,
    oldest_compatible: 2,
    description: "the writer epoch that claimed an idempotency key",
    sql: "ALTER TABLE server_idempotency ADD COLUMN writer_epoch INTEGER;",
}];

/// Applies the SQLite migrations not yet recorded, each in its own transaction with its record.
/// One server at a time opens a SQLite database (`FILE.serve.lock`), so none races another.
/// Refuses, as on PostgreSQL, a database with a newer step this build cannot work with.
fn migrate_sqlite(conn: &Connection) -> Result<(), String> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS server_migrations (
             version INTEGER PRIMARY KEY,
             description TEXT NOT NULL,
             oldest_compatible INTEGER
         );",
    )
    .map_err(|e| e.to_string())?;
    let has_column: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('server_migrations')
                            WHERE name = 'oldest_compatible')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    if !has_column {
        conn.execute_batch("ALTER TABLE server_migrations ADD COLUMN oldest_compatible INTEGER;")
            .map_err(|e| e.to_string())?;
    }
    refuse_newer_sqlite_steps(conn)?;
    for m in SQLITE_MIGRATIONS {
        apply_sqlite_step(conn, m).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The first recorded step newer than this build that needs a newer build, as an error. A step
/// recorded without `oldest_compatible` (NULL) counts as needing its own version.
fn refuse_newer_sqlite_steps(conn: &Connection) -> Result<(), String> {
    let newest = SQLITE_MIGRATIONS.last().map_or(0, |m| m.version);
    let needing: Option<(i32, i32)> = conn
        .query_row(&first_incompatible_step_sql("server_migrations"), [newest], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(|e| e.to_string())?;
    match needing {
        None => Ok(()),
        Some((version, oldest)) => {
            Err(incompatible_step("server_migrations", version, oldest, newest))
        }
    }
}

fn apply_sqlite_step(conn: &Connection, m: &Migration) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    let done: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM server_migrations WHERE version = ?1)",
        [m.version],
        |r| r.get(0),
    )?;
    if !done {
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO server_migrations (version, description, oldest_compatible)
             VALUES (?1, ?2, ?3)",
            params![m.version, m.description, m.oldest_compatible],
        )?;
    }
    tx.commit()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves the database consistent (each statement is atomic).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn org_from(org: i64) -> Result<OrgId, AuthError> {
    u64::try_from(org)
        .map(OrgId)
        .map_err(|_| AuthError::Storage(format!("stored organization {org} is negative")))
}

fn org_to(org: OrgId) -> Result<i64, AuthError> {
    i64::try_from(org.0)
        .map_err(|_| AuthError::Storage(format!("organization {} does not fit", org.0)))
}

impl Db {
    fn open_sqlite(path: &std::path::Path) -> Result<Self, String> {
        let conn =
            Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| e.to_string())?;
        // The user tables share the journal's file and log. The journal checkpoints that log
        // off its writer's path; SQLite's own checkpoint on this connection would copy the
        // journal's pages inside an idempotency claim's commit, and contend for the lock.
        rasid_store::checkpoint::disable_auto_checkpoint(&conn).map_err(|e| e.to_string())?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS server_users (
                 username TEXT PRIMARY KEY,
                 org INTEGER NOT NULL,
                 password_phc TEXT NOT NULL,
                 created_ms INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS server_idempotency (
                 username TEXT NOT NULL,
                 key TEXT NOT NULL,
                 request_sha256 BLOB NOT NULL,
                 created_ms INTEGER NOT NULL,
                 status INTEGER,
                 body BLOB,
                 PRIMARY KEY (username, key)
             );
             CREATE TABLE IF NOT EXISTS server_sessions (
                 token_sha256 BLOB PRIMARY KEY,
                 username TEXT NOT NULL REFERENCES server_users(username),
                 expires_ms INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS server_api_keys (
                 id INTEGER PRIMARY KEY,
                 username TEXT NOT NULL REFERENCES server_users(username),
                 name TEXT NOT NULL,
                 prefix TEXT NOT NULL,
                 secret_sha256 BLOB NOT NULL UNIQUE,
                 created_ms INTEGER NOT NULL,
                 revoked_ms INTEGER
             );",
        )
        .map_err(|e| format!("cannot create the user tables: {e}"))?;
        migrate_sqlite(&conn).map_err(|e| format!("cannot migrate the user tables: {e}"))?;
        Ok(Db::Sqlite(Mutex::new(conn)))
    }

    /// Connects and migrates, in one transaction under the journal's migration lock, so two
    /// servers starting at once on a fresh database do not both create the tables.
    fn open_postgres(url: &str) -> Result<Self, String> {
        let fail = |e: rasid_store::StoreError| format!("cannot open the user tables: {e}");
        let mut client = connect(url).map_err(fail)?;
        let mut tx = client.transaction().map_err(|e| fail(e.into()))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
            .map_err(|e| fail(e.into()))?;
        apply_migrations(&mut tx, "server_migrations", PG_MIGRATIONS).map_err(fail)?;
        tx.commit().map_err(|e| fail(e.into()))?;
        Ok(Db::Postgres(Mutex::new(PgClient(client))))
    }

    fn user_count(&self) -> Result<i64, AuthError> {
        Ok(match self {
            Db::Sqlite(c) => {
                lock(c).query_row("SELECT COUNT(*) FROM server_users", [], |r| r.get(0))?
            }
            Db::Postgres(c) => {
                lock(c).0.query_one("SELECT COUNT(*) FROM server_users", &[])?.try_get(0)?
            }
        })
    }

    /// `false` when the username is taken.
    fn insert_user(
        &self,
        username: &str,
        org: OrgId,
        phc: &str,
        now_ms: i64,
    ) -> Result<bool, AuthError> {
        let org = org_to(org)?;
        let inserted = match self {
            Db::Sqlite(c) => lock(c).execute(
                "INSERT OR IGNORE INTO server_users (username, org, password_phc, created_ms)
                 VALUES (?1, ?2, ?3, ?4)",
                params![username, org, phc, now_ms],
            )? as u64,
            Db::Postgres(c) => lock(c).0.execute(
                "INSERT INTO server_users (username, org, password_phc, created_ms)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING",
                &[&username, &org, &phc, &now_ms],
            )?,
        };
        Ok(inserted == 1)
    }

    fn password_phc(&self, username: &str) -> Result<Option<String>, AuthError> {
        Ok(match self {
            Db::Sqlite(c) => lock(c)
                .query_row(
                    "SELECT password_phc FROM server_users WHERE username = ?1",
                    [username],
                    |r| r.get(0),
                )
                .optional()?,
            Db::Postgres(c) => lock(c)
                .0
                .query_opt(
                    "SELECT password_phc FROM server_users WHERE username = $1",
                    &[&username],
                )?
                .map(|r| r.try_get(0))
                .transpose()?,
        })
    }

    fn insert_session(
        &self,
        token_sha256: &[u8; 32],
        username: &str,
        expires_ms: i64,
    ) -> Result<(), AuthError> {
        match self {
            Db::Sqlite(c) => {
                lock(c).execute(
                    "INSERT INTO server_sessions (token_sha256, username, expires_ms)
                     VALUES (?1, ?2, ?3)",
                    params![token_sha256.to_vec(), username, expires_ms],
                )?;
            }
            Db::Postgres(c) => {
                lock(c).0.execute(
                    "INSERT INTO server_sessions (token_sha256, username, expires_ms)
                     VALUES ($1, $2, $3)",
                    &[&&token_sha256[..], &username, &expires_ms],
                )?;
            }
        }
        Ok(())
    }

    fn delete_session(&self, token_sha256: &[u8; 32]) -> Result<(), AuthError> {
        match self {
            Db::Sqlite(c) => {
                lock(c).execute(
                    "DELETE FROM server_sessions WHERE token_sha256 = ?1",
                    [token_sha256.to_vec()],
                )?;
            }
            Db::Postgres(c) => {
                lock(c).0.execute(
                    "DELETE FROM server_sessions WHERE token_sha256 = $1",
                    &[&&token_sha256[..]],
                )?;
            }
        }
        Ok(())
    }

    fn session_user(
        &self,
        token_sha256: &[u8; 32],
        now_ms: i64,
    ) -> Result<Option<User>, AuthError> {
        let row: Option<(String, i64)> = match self {
            Db::Sqlite(c) => lock(c)
                .query_row(
                    "SELECT u.username, u.org FROM server_sessions s JOIN server_users u USING (username)
                     WHERE s.token_sha256 = ?1 AND s.expires_ms > ?2",
                    params![token_sha256.to_vec(), now_ms],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?,
            Db::Postgres(c) => lock(c)
                .0
                .query_opt(
                    "SELECT u.username, u.org FROM server_sessions s JOIN server_users u USING (username)
                     WHERE s.token_sha256 = $1 AND s.expires_ms > $2",
                    &[&&token_sha256[..], &now_ms],
                )?
                .map(|r| Ok::<_, postgres::Error>((r.try_get(0)?, r.try_get(1)?)))
                .transpose()?,
        };
        row.map(|(username, org)| Ok(User { username, org: org_from(org)? })).transpose()
    }

    /// Forgets expired keys, then inserts the claim; `None` when the insert made it, otherwise
    /// what the key already holds.
    fn idempotency_claim(
        &self,
        username: &str,
        key: &str,
        request: &[u8; 32],
        now_ms: i64,
        writer_epoch: i64,
    ) -> Result<Option<IdempotencyRow>, AuthError> {
        let expired_before = now_ms - IDEMPOTENCY_TTL_MS;
        match self {
            Db::Sqlite(c) => {
                let conn = lock(c);
                conn.execute(
                    "DELETE FROM server_idempotency WHERE created_ms < ?1",
                    [expired_before],
                )?;
                let inserted = conn.execute(
                    "INSERT OR IGNORE INTO server_idempotency
                         (username, key, request_sha256, created_ms, writer_epoch)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![username, key, request.to_vec(), now_ms, writer_epoch],
                )?;
                if inserted == 1 {
                    return Ok(None);
                }
                Ok(Some(conn.query_row(
                    "SELECT request_sha256, status, body, writer_epoch FROM server_idempotency
                     WHERE username = ?1 AND key = ?2",
                    params![username, key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?))
            }
            Db::Postgres(c) => {
                let client = &mut lock(c).0;
                client.execute(
                    "DELETE FROM server_idempotency WHERE created_ms < $1",
                    &[&expired_before],
                )?;
                let inserted = client.execute(
                    "INSERT INTO server_idempotency
                         (username, key, request_sha256, created_ms, writer_epoch)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username, key) DO NOTHING",
                    &[&username, &key, &&request[..], &now_ms, &writer_epoch],
                )?;
                if inserted == 1 {
                    return Ok(None);
                }
                let r = client.query_one(
                    "SELECT request_sha256, status, body, writer_epoch FROM server_idempotency
                     WHERE username = $1 AND key = $2",
                    &[&username, &key],
                )?;
                let status: Option<i32> = r.try_get(1)?;
                Ok(Some((r.try_get(0)?, status.map(i64::from), r.try_get(2)?, r.try_get(3)?)))
            }
        }
    }

    fn idempotency_finish(
        &self,
        username: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), AuthError> {
        match self {
            Db::Sqlite(c) => {
                lock(c).execute(
                    "UPDATE server_idempotency SET status = ?3, body = ?4 WHERE username = ?1 AND key = ?2",
                    params![username, key, i64::from(status), body],
                )?;
            }
            Db::Postgres(c) => {
                lock(c).0.execute(
                    "UPDATE server_idempotency SET status = $3, body = $4 WHERE username = $1 AND key = $2",
                    &[&username, &key, &i32::from(status), &body],
                )?;
            }
        }
        Ok(())
    }

    fn idempotency_abort(&self, username: &str, key: &str) -> Result<(), AuthError> {
        match self {
            Db::Sqlite(c) => {
                lock(c).execute(
                    "DELETE FROM server_idempotency WHERE username = ?1 AND key = ?2",
                    params![username, key],
                )?;
            }
            Db::Postgres(c) => {
                lock(c).0.execute(
                    "DELETE FROM server_idempotency WHERE username = $1 AND key = $2",
                    &[&username, &key],
                )?;
            }
        }
        Ok(())
    }
}

impl Db {
    /// Inserts a key unless the user already holds [`API_KEYS_PER_USER_MAX`] live ones; its id.
    fn insert_api_key(
        &self,
        username: &str,
        name: &str,
        prefix: &str,
        secret_sha256: &[u8; 32],
        now_ms: i64,
    ) -> Result<Option<u64>, AuthError> {
        let id: i64 = match self {
            Db::Sqlite(c) => {
                // One connection behind a mutex: the count and the insert cannot interleave
                // with another request's.
                let conn = lock(c);
                let live: i64 = conn.query_row(
                    "SELECT COUNT(*) FROM server_api_keys WHERE username = ?1 AND revoked_ms IS NULL",
                    [username],
                    |r| r.get(0),
                )?;
                if live >= API_KEYS_PER_USER_MAX {
                    return Ok(None);
                }
                conn.execute(
                    "INSERT INTO server_api_keys (username, name, prefix, secret_sha256, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![username, name, prefix, secret_sha256.to_vec(), now_ms],
                )?;
                conn.last_insert_rowid()
            }
            Db::Postgres(c) => {
                // Several servers share the table: the user's row is locked for the count and
                // the insert, so two concurrent creations cannot both pass the limit.
                let client = &mut lock(c).0;
                let mut tx = client.transaction()?;
                if tx
                    .query_opt(
                        "SELECT 1 FROM server_users WHERE username = $1 FOR UPDATE",
                        &[&username],
                    )?
                    .is_none()
                {
                    return Err(AuthError::Storage(format!("no user {username}")));
                }
                let live: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM server_api_keys
                         WHERE username = $1 AND revoked_ms IS NULL",
                        &[&username],
                    )?
                    .try_get(0)?;
                if live >= API_KEYS_PER_USER_MAX {
                    return Ok(None);
                }
                let id: i64 = tx
                    .query_one(
                        "INSERT INTO server_api_keys (username, name, prefix, secret_sha256, created_ms)
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                        &[&username, &name, &prefix, &&secret_sha256[..], &now_ms],
                    )?
                    .try_get(0)?;
                tx.commit()?;
                id
            }
        };
        u64::try_from(id)
            .map(Some)
            .map_err(|_| AuthError::Storage(format!("stored API key id {id} is negative")))
    }

    fn api_keys(&self, username: &str) -> Result<Vec<ApiKey>, AuthError> {
        type Row = (i64, String, String, i64, Option<i64>);
        let rows: Vec<Row> = match self {
            Db::Sqlite(c) => {
                let conn = lock(c);
                let mut statement = conn.prepare(
                    "SELECT id, name, prefix, created_ms, revoked_ms FROM server_api_keys
                     WHERE username = ?1 ORDER BY id",
                )?;
                let rows = statement.query_map([username], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?;
                rows.collect::<Result<_, _>>()?
            }
            Db::Postgres(c) => lock(c)
                .0
                .query(
                    "SELECT id, name, prefix, created_ms, revoked_ms FROM server_api_keys
                     WHERE username = $1 ORDER BY id",
                    &[&username],
                )?
                .iter()
                .map(|r| {
                    Ok::<_, postgres::Error>((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                        r.try_get(4)?,
                    ))
                })
                .collect::<Result<_, _>>()?,
        };
        rows.into_iter()
            .map(|(id, name, prefix, created_ms, revoked_ms)| {
                let id = u64::try_from(id).map_err(|_| {
                    AuthError::Storage(format!("stored API key id {id} is negative"))
                })?;
                Ok(ApiKey { id, name, prefix, created_ms, revoked_ms })
            })
            .collect()
    }

    /// `false` when the user has no such live key.
    fn revoke_api_key(&self, username: &str, id: i64, now_ms: i64) -> Result<bool, AuthError> {
        let n = match self {
            Db::Sqlite(c) => lock(c).execute(
                "UPDATE server_api_keys SET revoked_ms = ?3
                 WHERE id = ?1 AND username = ?2 AND revoked_ms IS NULL",
                params![id, username, now_ms],
            )? as u64,
            Db::Postgres(c) => lock(c).0.execute(
                "UPDATE server_api_keys SET revoked_ms = $3
                 WHERE id = $1 AND username = $2 AND revoked_ms IS NULL",
                &[&id, &username, &now_ms],
            )?,
        };
        Ok(n == 1)
    }

    fn api_key_user(&self, secret_sha256: &[u8; 32]) -> Result<Option<User>, AuthError> {
        let row: Option<(String, i64)> = match self {
            Db::Sqlite(c) => lock(c)
                .query_row(
                    "SELECT u.username, u.org FROM server_api_keys k JOIN server_users u USING (username)
                     WHERE k.secret_sha256 = ?1 AND k.revoked_ms IS NULL",
                    [secret_sha256.to_vec()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?,
            Db::Postgres(c) => lock(c)
                .0
                .query_opt(
                    "SELECT u.username, u.org FROM server_api_keys k JOIN server_users u USING (username)
                     WHERE k.secret_sha256 = $1 AND k.revoked_ms IS NULL",
                    &[&&secret_sha256[..]],
                )?
                .map(|r| Ok::<_, postgres::Error>((r.try_get(0)?, r.try_get(1)?)))
                .transpose()?,
        };
        row.map(|(username, org)| Ok(User { username, org: org_from(org)? })).transpose()
    }
}

/// argon2id (the crate's default algorithm and OWASP-level parameters) with a fresh salt.
fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| AuthError::Storage(format!("salt: {e}")))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AuthError::Storage(format!("argon2: {e}")))?
        .to_string())
}

pub(crate) fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| AuthError::Storage(format!("no randomness: {e}")))?;
    Ok(buf)
}

fn hex(bytes: &[u8]) -> String {
    rasid_core::codec::hex(bytes)
}

/// A username is short, lower-case ASCII letters, digits and `._-`, so it is unambiguous in logs.
pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= USERNAME_LEN_MAX
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SQLite database from before writer epochs: its idempotency table lacks the column and
    /// holds a claim its writer never answered. Opening migrates it once; the old claim is in
    /// doubt for any writer, and new claims are told apart by their epoch.
    #[test]
    fn an_old_sqlite_database_gains_writer_epochs_and_its_unanswered_claims_are_in_doubt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rasid.db");
        let request = [7u8; 32];
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE server_idempotency (
                     username TEXT NOT NULL, key TEXT NOT NULL, request_sha256 BLOB NOT NULL,
                     created_ms INTEGER NOT NULL, status INTEGER, body BLOB,
                     PRIMARY KEY (username, key)
                 );",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO server_idempotency (username, key, request_sha256, created_ms)
                 VALUES ('dev', 'old', ?1, ?2)",
                params![request.to_vec(), 1_000],
            )
            .unwrap();
        }
        let database = DatabaseUrl::Sqlite(path);
        let users = Users::open(&database).unwrap();
        let begin = |key: &str, epoch: i64| {
            users.idempotency_begin("dev", key, &request, 2_000, epoch).unwrap()
        };
        assert!(matches!(begin("old", 5), Idempotency::InDoubt));
        assert!(matches!(begin("new", 5), Idempotency::New));
        assert!(matches!(begin("new", 5), Idempotency::InFlight));
        assert!(matches!(begin("new", 6), Idempotency::InDoubt));
        drop(users);
        // Opening again applies nothing twice (a second ADD COLUMN would fail).
        let users = Users::open(&database).unwrap();
        assert!(matches!(
            users.idempotency_begin("dev", "new", &request, 3_000, 5).unwrap(),
            Idempotency::InFlight
        ));
    }

    /// A database a newer build migrated: this build opens it only when every step it does not
    /// know says builds of this schema version still work on it (a rolling upgrade, or a
    /// rollback). A history table from before the rule gains its column.
    #[test]
    fn a_newer_step_is_accepted_only_when_it_says_this_build_still_works() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rasid.db");
        let database = DatabaseUrl::Sqlite(path.clone());
        drop(Users::open(&database).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("ALTER TABLE server_migrations DROP COLUMN oldest_compatible;").unwrap();
        drop(Users::open(&database).expect("a history table from before the rule"));

        let newest = SQLITE_MIGRATIONS.last().unwrap().version;
        let record = |version: i32, oldest: Option<i32>| {
            conn.execute(
                "INSERT INTO server_migrations (version, description, oldest_compatible)
                 VALUES (?1, 'from a newer build', ?2)",
                params![version, oldest],
            )
            .unwrap();
        };
        record(newest + 1, Some(newest));
        let users = Users::open(&database).expect("a compatible newer step");
        assert!(matches!(
            users.idempotency_begin("dev", "k", &[1; 32], 1_000, 5).unwrap(),
            Idempotency::New
        ));
        drop(users);
        for oldest in [None, Some(newest + 1)] {
            conn.execute("DELETE FROM server_migrations WHERE version = ?1", [newest + 2]).unwrap();
            record(newest + 2, oldest);
            let err = Users::open(&database).unwrap_err();
            let step = format!("step {}", newest + 2);
            assert!(err.to_string().contains(&step), "{oldest:?}: {err}");
        }
    }

    /// The user tables' connection writes to the journal's log; the journal checkpoints that
    /// log on its own thread, so this connection's automatic checkpoint is off (it would run
    /// inside an idempotency claim's commit).
    #[test]
    fn the_user_tables_leave_checkpoints_to_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let users = Users::open(&DatabaseUrl::Sqlite(dir.path().join("rasid.db"))).unwrap();
        let Db::Sqlite(conn) = &users.db else { panic!("a SQLite URL opens SQLite") };
        let pages: i64 =
            lock(conn).query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)).unwrap();
        assert_eq!(pages, 0);
    }

    /// Steps are numbered in order and each is compatible with itself; SQLite's steps are
    /// PostgreSQL's under the same number, so one number names one change on both.
    #[test]
    fn the_user_tables_migrations_agree_between_backends() {
        for steps in [PG_MIGRATIONS, SQLITE_MIGRATIONS] {
            assert!(steps.windows(2).all(|w| w[0].version < w[1].version));
            assert!(steps.iter().all(|m| m.oldest_compatible <= m.version));
        }
        for lite in SQLITE_MIGRATIONS {
            let pg = PG_MIGRATIONS.iter().find(|m| m.version == lite.version).unwrap();
            assert_eq!(
                (pg.description, pg.oldest_compatible),
                (lite.description, lite.oldest_compatible)
            );
        }
    }
}
