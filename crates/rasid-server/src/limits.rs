//! Per-token rate limits: a token bucket for each session token and API key.
//!
//! Each token may make `rate_per_s` requests a second on average and `burst` at once. A request
//! over budget is answered 429 `rate_limited` with `Retry-After` and reaches nothing else. The
//! buckets are keyed by the SHA-256 of the token (never the token) and their number is bounded:
//! when the table is full, buckets that have refilled completely (idle tokens) are dropped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Most buckets kept at once; tokens beyond share the cost of a sweep, never unbounded memory.
pub const BUCKETS_MAX: usize = 100_000;
/// Defaults for `rasid serve`: generous for a person, a ceiling for a runaway program.
pub const DEFAULT_RATE_PER_S: u32 = 2_000;
pub const DEFAULT_BURST: u32 = 4_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    /// `(rate per second, burst)`; a rate of 0 turns limiting off.
    config: Mutex<(u32, u32)>,
    buckets: Mutex<HashMap<[u8; 16], Bucket>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(DEFAULT_RATE_PER_S, DEFAULT_BURST)
    }
}

impl RateLimiter {
    pub fn new(rate_per_s: u32, burst: u32) -> Self {
        Self { config: Mutex::new((rate_per_s, burst.max(1))), buckets: Mutex::new(HashMap::new()) }
    }

    pub fn configure(&self, rate_per_s: u32, burst: u32) {
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = (rate_per_s, burst.max(1));
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Takes one request from the token's bucket: `Err(seconds to wait)` when it is empty.
    pub fn take(&self, token_sha256: &[u8; 32], now: Instant) -> Result<(), u64> {
        let (rate, burst) = *self.config.lock().unwrap_or_else(|p| p.into_inner());
        if rate == 0 {
            return Ok(());
        }
        let (rate, burst) = (f64::from(rate), f64::from(burst));
        let mut key = [0u8; 16];
        key.copy_from_slice(&token_sha256[..16]);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= BUCKETS_MAX && !buckets.contains_key(&key) {
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
            if buckets.len() >= BUCKETS_MAX {
                // Every bucket is in use: refuse rather than grow.
                return Err(1);
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: burst, last: now });
        let refill = now.saturating_duration_since(bucket.last).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait_s = ((1.0 - bucket.tokens) / rate).ceil();
            // At least one second: Retry-After counts whole seconds.
            Err((wait_s as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let limiter = RateLimiter::new(10, 3);
        let t0 = Instant::now();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        for _ in 0..3 {
            assert_eq!(limiter.take(&a, t0), Ok(()));
        }
        assert_eq!(limiter.take(&a, t0), Err(1), "burst spent");
        assert_eq!(limiter.take(&b, t0), Ok(()), "another token has its own bucket");
        assert_eq!(limiter.take(&a, t0 + Duration::from_millis(100)), Ok(()), "one refilled");
        assert!(limiter.take(&a, t0 + Duration::from_millis(100)).is_err());
        limiter.configure(0, 0);
        assert_eq!(limiter.take(&a, t0), Ok(()), "rate 0 is off");
    }
}
