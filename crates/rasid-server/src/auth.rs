//! Users and sessions. They are not ledger state (logging in is not a registry event), so they
//! live in tables of their own beside the journal in the same SQLite file. Passwords are stored
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
    conn: Mutex<Connection>,
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

impl Users {
    pub fn open(database: &DatabaseUrl) -> Result<Self, String> {
        let path = match database {
            DatabaseUrl::Sqlite(path) => path,
            DatabaseUrl::Postgres(_) => {
                return Err("rasid serve does not support PostgreSQL databases yet: its user and \
                            session tables are SQLite only; use a sqlite:// URL"
                    .into());
            }
        };
        let conn =
            Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| e.to_string())?;
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
        let dummy = hex(&random_bytes::<16>().map_err(|e| format!("{e:?}"))?);
        let dummy_phc = hash_password(&dummy).map_err(|e| format!("{e:?}"))?;
        Ok(Self { conn: Mutex::new(conn), dummy_phc })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each statement is atomic).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_empty(&self) -> Result<bool, AuthError> {
        let n: i64 =
            self.conn().query_row("SELECT COUNT(*) FROM server_users", [], |r| r.get(0))?;
        Ok(n == 0)
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
        let inserted = self.conn().execute(
            "INSERT OR IGNORE INTO server_users (username, org, password_phc, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![username, org.0 as i64, phc, now_ms],
        )?;
        if inserted == 0 { Err(AuthError::Exists) } else { Ok(()) }
    }

    /// Checks a password and opens a session; returns the token, shown only this once.
    /// Unknown users cost an argon2 run too, so timing does not reveal which usernames exist.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        now_ms: i64,
    ) -> Result<Option<String>, AuthError> {
        let stored: Option<String> = self
            .conn()
            .query_row(
                "SELECT password_phc FROM server_users WHERE username = ?1",
                [username],
                |r| r.get(0),
            )
            .optional()?;
        let phc = stored.clone().unwrap_or_else(|| self.dummy_phc.clone());
        let parsed =
            PasswordHash::new(&phc).map_err(|e| AuthError::Storage(format!("stored hash: {e}")))?;
        let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        if !ok || stored.is_none() {
            return Ok(None);
        }
        let token_bytes = random_bytes::<32>()?;
        let token = hex(&token_bytes);
        self.conn().execute(
            "INSERT INTO server_sessions (token_sha256, username, expires_ms) VALUES (?1, ?2, ?3)",
            params![token_hash(&token).to_vec(), username, now_ms + SESSION_TTL_MS],
        )?;
        Ok(Some(token))
    }

    pub fn end_session(&self, token: &str) -> Result<(), AuthError> {
        self.conn().execute(
            "DELETE FROM server_sessions WHERE token_sha256 = ?1",
            [token_hash(token).to_vec()],
        )?;
        Ok(())
    }

    /// The user a bearer token — a session token or an API key — belongs to.
    pub fn user_for_token(&self, token: &str, now_ms: i64) -> Result<Option<User>, AuthError> {
        if token.starts_with(API_KEY_PREFIX) {
            self.api_key_user(token)
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
        let conn = self.conn();
        let live: i64 = conn.query_row(
            "SELECT COUNT(*) FROM server_api_keys WHERE username = ?1 AND revoked_ms IS NULL",
            [username],
            |r| r.get(0),
        )?;
        if live >= API_KEYS_PER_USER_MAX {
            return Ok(None);
        }
        let secret = format!("{API_KEY_PREFIX}{}", hex(&random_bytes::<32>()?));
        let prefix: String = secret.chars().take(API_KEY_PREFIX.len() + 8).collect();
        conn.execute(
            "INSERT INTO server_api_keys (username, name, prefix, secret_sha256, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![username, name, prefix, token_hash(&secret).to_vec(), now_ms],
        )?;
        let id = u64::try_from(conn.last_insert_rowid()).unwrap_or_default();
        let key =
            ApiKey { id, name: name.to_owned(), prefix, created_ms: now_ms, revoked_ms: None };
        Ok(Some((key, secret)))
    }

    /// The user's keys, revoked ones included, oldest first.
    pub fn api_keys(&self, username: &str) -> Result<Vec<ApiKey>, AuthError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT id, name, prefix, created_ms, revoked_ms FROM server_api_keys
             WHERE username = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([username], |r| {
            Ok(ApiKey {
                id: u64::try_from(r.get::<_, i64>(0)?).unwrap_or_default(),
                name: r.get(1)?,
                prefix: r.get(2)?,
                created_ms: r.get(3)?,
                revoked_ms: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes one of the user's keys. `false` when the user has no such live key.
    pub fn revoke_api_key(&self, username: &str, id: u64, now_ms: i64) -> Result<bool, AuthError> {
        let Ok(id) = i64::try_from(id) else { return Ok(false) };
        let n = self.conn().execute(
            "UPDATE server_api_keys SET revoked_ms = ?3
             WHERE id = ?1 AND username = ?2 AND revoked_ms IS NULL",
            params![id, username, now_ms],
        )?;
        Ok(n == 1)
    }

    fn api_key_user(&self, secret: &str) -> Result<Option<User>, AuthError> {
        let user = self
            .conn()
            .query_row(
                "SELECT u.username, u.org FROM server_api_keys k JOIN server_users u USING (username)
                 WHERE k.secret_sha256 = ?1 AND k.revoked_ms IS NULL",
                [token_hash(secret).to_vec()],
                |r| Ok(User { username: r.get(0)?, org: OrgId(r.get::<_, i64>(1)? as u64) }),
            )
            .optional()?;
        Ok(user)
    }

    /// The user a bearer token belongs to, if the session exists and has not expired.
    pub fn session(&self, token: &str, now_ms: i64) -> Result<Option<User>, AuthError> {
        let user = self
            .conn()
            .query_row(
                "SELECT u.username, u.org FROM server_sessions s JOIN server_users u USING (username)
                 WHERE s.token_sha256 = ?1 AND s.expires_ms > ?2",
                params![token_hash(token).to_vec(), now_ms],
                |r| Ok(User { username: r.get(0)?, org: OrgId(r.get::<_, i64>(1)? as u64) }),
            )
            .optional()?;
        Ok(user)
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
    /// Same key, another request.
    Mismatch,
}

/// Keys are remembered this long.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

impl Users {
    /// Claims `key` for this user and request, or reports what the key already holds. The claim
    /// is an insert, so two concurrent requests with one key cannot both run.
    pub fn idempotency_begin(
        &self,
        username: &str,
        key: &str,
        request: &[u8; 32],
        now_ms: i64,
    ) -> Result<Idempotency, AuthError> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM server_idempotency WHERE created_ms < ?1",
            [now_ms - IDEMPOTENCY_TTL_MS],
        )?;
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO server_idempotency (username, key, request_sha256, created_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![username, key, request.to_vec(), now_ms],
        )?;
        if inserted == 1 {
            return Ok(Idempotency::New);
        }
        let (stored, status, body): (Vec<u8>, Option<i64>, Option<Vec<u8>>) = conn.query_row(
            "SELECT request_sha256, status, body FROM server_idempotency WHERE username = ?1 AND key = ?2",
            params![username, key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(if stored != request.as_slice() {
            Idempotency::Mismatch
        } else {
            match (status, body) {
                (Some(status), Some(body)) => {
                    Idempotency::Replay(u16::try_from(status).unwrap_or(500), body)
                }
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
        self.conn().execute(
            "UPDATE server_idempotency SET status = ?3, body = ?4 WHERE username = ?1 AND key = ?2",
            params![username, key, i64::from(status), body],
        )?;
        Ok(())
    }

    /// Releases a claimed key whose request failed on the server's side, so a retry may run.
    pub fn idempotency_abort(&self, username: &str, key: &str) -> Result<(), AuthError> {
        self.conn().execute(
            "DELETE FROM server_idempotency WHERE username = ?1 AND key = ?2",
            params![username, key],
        )?;
        Ok(())
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
