//! Slowing down password guessing, in memory: attempts per client address ([`AttemptLimiter`])
//! and growing cool-downs per (username, address) pair ([`FailureThrottle`]), joined in
//! [`SignInGuard`].
//!
//! Nothing here locks an account. OWASP's Authentication Cheat Sheet warns that a lockout per
//! account lets anyone lock the real owner out (and a lockout that applies to known names
//! only tells which names exist). So failures slow down the one address that made them, for
//! the name it tried, and the owner signing in from anywhere else is not touched. Names are
//! counted as typed, whether a user has them or not, so unknown and real names are throttled
//! alike. A distributed guesser gets the same cool-downs per address; each of its failures is
//! an audit row (outcome `denied`) to watch.
//!
//! Why memory and not the database: the counters key on what was typed as a username, which
//! may be anything (even a password) and is not to be stored; only a hash of it is kept here.
//! A restart forgets the cool-downs under way (15 minutes at most each, by default), and
//! the audit trail, which does survive, still holds every failure. With several servers each
//! counts on its own, so a guesser spreading over n servers gets n times the attempts: run
//! one, or put the throttle in front of them.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::config::AuthConfig;

/// At most `limit` attempts per address in any `window`: a cool-down for an address that
/// tries many names.
#[derive(Debug)]
pub struct AttemptLimiter {
    limit: usize,
    window: Duration,
    attempts: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl AttemptLimiter {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Records an attempt from `address`; `Err(wait)` when it is over the limit.
    pub fn attempt(&self, address: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if attempts.len() > 10_000 {
            // Bound the memory: forget addresses whose window has passed.
            attempts.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let times = attempts.entry(address).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= self.limit {
            let oldest = *times.front().expect("over the limit means not empty");
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }
}

/// Entries kept before cool-downs that have ended are forgotten.
const MAX_ENTRIES: usize = 100_000;
/// Failures older than this are forgotten: a pair that stayed quiet this long starts afresh.
const FAILURE_MEMORY: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Growing cool-downs per key after `free` failures in a row: `first`, doubled at every
/// further failure, at most `max`. A success clears the key.
#[derive(Debug)]
pub struct FailureThrottle {
    free: u32,
    first: Duration,
    max: Duration,
    failures: Mutex<HashMap<[u8; 32], Failures>>,
}

impl FailureThrottle {
    pub fn new(free: u32, first: Duration, max: Duration) -> Self {
        Self {
            free,
            first,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn delay(&self, count: u32) -> Option<Duration> {
        let past = count.checked_sub(self.free)?;
        let factor = 2u32.checked_pow(past).unwrap_or(u32::MAX);
        Some(self.first.saturating_mul(factor).min(self.max))
    }

    /// `Err(wait)` while `key` is cooling down.
    pub fn check(&self, key: &[u8; 32]) -> Result<(), Duration> {
        let now = Instant::now();
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = failures.get(key) else {
            return Ok(());
        };
        let Some(delay) = self.delay(entry.count) else {
            return Ok(());
        };
        let until = entry.last + delay;
        if until > now {
            Err(until - now)
        } else {
            Ok(())
        }
    }

    pub fn failed(&self, key: [u8; 32]) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_ENTRIES {
            // Keep what still holds something back.
            failures.retain(|_, f| {
                self.delay(f.count)
                    .is_some_and(|delay| now.duration_since(f.last) < delay)
            });
        }
        let entry = failures.entry(key).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.duration_since(entry.last) >= FAILURE_MEMORY {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
    }

    pub fn succeeded(&self, key: &[u8; 32]) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(key);
    }
}

/// Everything that stands between a guesser and the password check.
#[derive(Debug)]
pub struct SignInGuard {
    addresses: AttemptLimiter,
    pairs: FailureThrottle,
    verifications: AtomicU64,
}

impl SignInGuard {
    pub fn new(config: &AuthConfig) -> Self {
        super::password::prepare();
        Self {
            addresses: AttemptLimiter::new(config.address_limit, config.address_window),
            pairs: FailureThrottle::new(config.free_failures, config.first_delay, config.max_delay),
            verifications: AtomicU64::new(0),
        }
    }

    /// The pair's key: a hash, so what was typed is not kept (it may be a password).
    fn key(username: &str, client: Option<IpAddr>) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(client_or_unknown(client).to_string().as_bytes());
        hasher.update([0]);
        hasher.update(username.as_bytes());
        hasher.finalize().into()
    }

    /// Counts an attempt for `username` from `client`; `Err(wait)` when it must not be
    /// checked now (the address is over its limit, or the pair is cooling down). The answer
    /// depends only on what was typed and where from, never on whether the user exists.
    pub fn admit(&self, username: &str, client: Option<IpAddr>) -> Result<(), Duration> {
        self.addresses.attempt(client_or_unknown(client))?;
        self.pairs.check(&Self::key(username, client))
    }

    pub fn failed(&self, username: &str, client: Option<IpAddr>) {
        self.pairs.failed(Self::key(username, client));
    }

    pub fn succeeded(&self, username: &str, client: Option<IpAddr>) {
        self.pairs.succeeded(&Self::key(username, client));
    }

    /// Counts one password verification (argon2id), for [`Self::verifications`].
    pub fn verified(&self) {
        self.verifications.fetch_add(1, Ordering::Relaxed);
    }

    /// Password verifications done so far: unknown names must cost one as real ones do.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}

/// In-process requests have no address; they share one.
fn client_or_unknown(client: Option<IpAddr>) -> IpAddr {
    client.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_per_address() {
        let limiter = AttemptLimiter::new(3, Duration::from_secs(60));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.attempt(a).is_ok());
        }
        let wait = limiter.attempt(a).unwrap_err();
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(55));
        assert!(
            limiter.attempt(b).is_ok(),
            "other addresses are not affected"
        );
    }

    #[test]
    fn cool_downs_grow_per_pair_and_a_success_clears_them() {
        let throttle = FailureThrottle::new(2, Duration::from_secs(10), Duration::from_secs(35));
        let (a, b) = ([1u8; 32], [2u8; 32]);
        throttle.failed(a);
        throttle.failed(a);
        assert!(throttle.check(&b).is_ok(), "other pairs are not affected");
        let wait = throttle.check(&a).unwrap_err();
        assert!(wait <= Duration::from_secs(10) && wait > Duration::from_secs(9));
        throttle.failed(a);
        assert!(throttle.check(&a).unwrap_err() > Duration::from_secs(19));
        throttle.failed(a);
        throttle.failed(a);
        let wait = throttle.check(&a).unwrap_err();
        assert!(wait <= Duration::from_secs(35), "capped: {wait:?}");
        throttle.succeeded(&a);
        assert!(throttle.check(&a).is_ok());
    }
}
