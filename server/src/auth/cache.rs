//! Sessions looked up moments ago, so most requests need no database round trip to learn
//! who is calling (one of two for a dispatcher's candidates, one of the few per report at
//! intake).
//!
//! A cached session is only as good as the news of its end. Whatever ends a session or
//! changes its user (sign-out, revocation, disabling, a new role or area, expiry moved)
//! sends a notice on the change feed (migration 0010); the feed's listener drops that user's
//! sessions the moment it reads the notice, before any later notice, and signing out through
//! this server drops the token before answering. While the listener is not connected nothing
//! is cached or served from the cache: notices may be missed then. An entry is also looked
//! up again after at most [`MAX_AGE`], which keeps the idle clock ticking and lets slowly
//! changing facts (the names of units) through.

use std::time::Duration;

use super::Caller;
use crate::feed_cache::{FeedCache, Ticket};

/// The longest a session is served from memory before it is looked up again.
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// Sessions by their token's hash.
#[derive(Debug)]
pub struct SessionCache(FeedCache<[u8; 32], Caller>);

impl Default for SessionCache {
    fn default() -> Self {
        Self(FeedCache::new(100_000))
    }
}

/// Proof of when a look-up began, for [`SessionCache::put`].
pub type LookupTicket = Ticket;

impl SessionCache {
    /// The caller behind a token hash, if it was looked up within `max_age`, has not expired
    /// and nothing has ended it since.
    pub fn get(&self, token_hash: &[u8; 32], max_age: Duration) -> Option<Caller> {
        self.0
            .get(token_hash, max_age)
            .filter(|caller| caller.expires_at > chrono::Utc::now())
    }

    /// Taken before reading a session from the database.
    pub fn ticket(&self) -> LookupTicket {
        self.0.ticket()
    }

    /// Keeps a session read from the database (see [`FeedCache::put`]).
    pub fn put(&self, ticket: LookupTicket, caller: &Caller) {
        self.0.put(ticket, caller.token_hash, caller.clone());
    }

    /// Drops every session of a user.
    pub fn forget_user(&self, user_id: i64) {
        self.0.forget_where(|_, caller| caller.user_id == user_id);
    }

    /// Drops one session.
    pub fn forget_token(&self, token_hash: &[u8; 32]) {
        self.0.forget(token_hash);
    }

    /// Drops everything (units renamed or redrawn change callers' areas).
    pub fn forget_all(&self) {
        self.0.forget_all();
    }

    /// The listener connected or lost its connection (see [`FeedCache::set_listening`]).
    pub fn set_listening(&self, listening: bool) {
        self.0.set_listening(listening);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Area, Role};

    fn caller(user_id: i64, token: u8) -> Caller {
        Caller {
            user_id,
            username: format!("u{user_id}"),
            role: Role::Operator,
            area: Area {
                level: "city".into(),
                code: "530400".into(),
                name: "玉溪市".into(),
                prefix: "5304".into(),
                grid_cell_id: None,
            },
            token_hash: [token; 32],
            expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        }
    }

    #[test]
    fn a_users_sessions_go_and_a_lookup_from_before_cannot_bring_them_back() {
        let cache = SessionCache::default();
        cache.set_listening(true);
        let early = cache.ticket();
        cache.put(early, &caller(1, 1));
        cache.put(cache.ticket(), &caller(1, 2));
        cache.put(cache.ticket(), &caller(2, 3));
        let in_flight = cache.ticket();
        cache.forget_user(1);
        assert!(cache.get(&[1; 32], MAX_AGE).is_none());
        assert!(cache.get(&[2; 32], MAX_AGE).is_none());
        assert!(
            cache.get(&[3; 32], MAX_AGE).is_some(),
            "another user's session stays"
        );
        cache.put(in_flight, &caller(1, 1));
        assert!(
            cache.get(&[1; 32], MAX_AGE).is_none(),
            "read before the notice: not kept"
        );
        cache.forget_token(&[3; 32]);
        assert!(cache.get(&[3; 32], MAX_AGE).is_none());
    }

    #[test]
    fn old_entries_and_expired_sessions_are_not_served() {
        let cache = SessionCache::default();
        cache.set_listening(true);
        cache.put(cache.ticket(), &caller(1, 1));
        assert!(cache.get(&[1; 32], Duration::ZERO).is_none());
        let mut expired = caller(2, 2);
        expired.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
        cache.put(cache.ticket(), &expired);
        assert!(cache.get(&[2; 32], MAX_AGE).is_none());
    }
}
