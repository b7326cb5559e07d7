//! Sign-in attempts per client address: at most `limit` in any `window`, in memory.
//!
//! Per-user lockout lives in the database (it must hold across restarts and instances); this
//! guards against one address trying many usernames.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
}
