//! Support for the tests of this crate and of the crates above it: where the PostgreSQL server
//! for tests is, and whether its absence fails the test or merely skips it.
//!
//! `scripts/test` starts a throwaway server and exports [`TEST_POSTGRES_URL_VAR`]. In CI a
//! missing server must fail the PostgreSQL variants of the tests, or a broken set-up would pass
//! as green with half the backends untested; a developer running plain `cargo test` without a
//! server gets a notice instead.

/// The environment variable naming the test server's database (`postgres://…`).
pub const TEST_POSTGRES_URL_VAR: &str = "RASID_TEST_POSTGRES_URL";

/// `Ok(Some(url))` when a test server is configured, `Ok(None)` (after printing a notice
/// naming `test`) when it is not and this is not CI, and `Err` when it is not and this is CI.
pub fn postgres_test_url(test: &str) -> Result<Option<String>, String> {
    match std::env::var(TEST_POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Ok(Some(url)),
        _ if in_ci() => Err(format!(
            "{TEST_POSTGRES_URL_VAR} is unset but CI is set: the PostgreSQL tests must run in CI \
             (scripts/test starts a server and sets it)"
        )),
        _ => {
            // Written to stderr directly rather than with `eprintln!`, which the test harness
            // captures and hides for passing tests: a skip should be seen.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "notice: skipping {test} on PostgreSQL: {TEST_POSTGRES_URL_VAR} is unset \
                 (scripts/test starts a server and sets it)"
            );
            Ok(None)
        }
    }
}

/// Whether the `CI` variable is set to anything but an explicit no.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "no"))
}
