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
//!
//! Open live sockets outlast any one look-up, so whatever drops sessions here is also
//! announced to them ([`SessionNews`]): each socket then checks its own session again.

use std::time::Duration;

use tokio::sync::broadcast;

use super::Caller;
use crate::feed_cache::{FeedCache, Ticket};

/// The longest a session is served from memory before it is looked up again.
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// Sessions that may have ended or changed, told to open live sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionNews {
    /// Every session of this user.
    User(i64),
    /// The session of this token (by hash).
    Token([u8; 32]),
    /// Any session (units changed, or notices may have been missed).
    All,
}

/// Sessions by their token's hash, and the news of their ends.
#[derive(Debug)]
pub struct SessionCache {
    cache: FeedCache<[u8; 32], Caller>,
    news: broadcast::Sender<SessionNews>,
}

impl Default for SessionCache {
    fn default() -> Self {
        // A socket that falls behind hears `Lagged` and checks its session anyway.
        let (news, _) = broadcast::channel(1024);
        Self {
            cache: FeedCache::new(100_000),
            news,
        }
    }
}

/// Proof of when a look-up began, for [`SessionCache::put`].
pub type LookupTicket = Ticket;

impl SessionCache {
    /// The caller behind a token hash, if it was looked up within `max_age`, has not expired
    /// and nothing has ended it since.
    pub fn get(&self, token_hash: &[u8; 32], max_age: Duration) -> Option<Caller> {
        self.cache
            .get(token_hash, max_age)
            .filter(|caller| caller.expires_at > chrono::Utc::now())
    }

    /// Taken before reading a session from the database.
    pub fn ticket(&self) -> LookupTicket {
        self.cache.ticket()
    }

    /// Keeps a session read from the database (see [`FeedCache::put`]).
    pub fn put(&self, ticket: LookupTicket, caller: &Caller) {
        self.cache.put(ticket, caller.token_hash, caller.clone());
    }

    /// Drops every session of a user.
    pub fn forget_user(&self, user_id: i64) {
        self.cache
            .forget_where(|_, caller| caller.user_id == user_id);
        self.announce(SessionNews::User(user_id));
    }

    /// Drops one session.
    pub fn forget_token(&self, token_hash: &[u8; 32]) {
        self.cache.forget(token_hash);
        self.announce(SessionNews::Token(*token_hash));
    }

    /// Drops everything (units renamed or redrawn change callers' areas).
    pub fn forget_all(&self) {
        self.cache.forget_all();
        self.announce(SessionNews::All);
    }

    /// The listener connected or lost its connection (see [`FeedCache::set_listening`]).
    pub fn set_listening(&self, listening: bool) {
        self.cache.set_listening(listening);
        // Notices may have been missed while nobody listened.
        self.announce(SessionNews::All);
    }

    /// News of sessions ended or changed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SessionNews> {
        self.news.subscribe()
    }

    fn announce(&self, news: SessionNews) {
        // No receivers is fine: no socket is open.
        let _ = self.news.send(news);
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
            worker_name: None,
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
