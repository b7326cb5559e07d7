//! Render slots: how many tiles one user may have rendered at once, so that one user asking
//! for many uncached tiles waits for their own slots while everyone else goes on.

/// Tiles each user may have rendered at once. Cached tiles are served without a slot; a
/// user who asks for many tiles no cache holds (new filters each time) waits for their own
/// slots, while everyone else's requests go on.
pub const RENDERS_PER_USER: usize = 2;

/// Render slots per user ([`RENDERS_PER_USER`] each).
#[derive(Debug, Default)]
pub struct RenderSlots(
    std::sync::Mutex<std::collections::HashMap<i64, std::sync::Arc<tokio::sync::Semaphore>>>,
);

impl RenderSlots {
    /// A slot for one render of `user_id`'s, waiting while their others are taken.
    pub async fn acquire(&self, user_id: i64) -> tokio::sync::OwnedSemaphorePermit {
        let semaphore = {
            let mut slots = self.0.lock().unwrap_or_else(|e| e.into_inner());
            // Users with nothing rendering keep no entry: the map stays as small as the
            // number of users rendering right now.
            slots.retain(|_, s| std::sync::Arc::strong_count(s) > 1);
            std::sync::Arc::clone(slots.entry(user_id).or_insert_with(|| {
                std::sync::Arc::new(tokio::sync::Semaphore::new(RENDERS_PER_USER))
            }))
        };
        semaphore
            .acquire_owned()
            .await
            .expect("render slots are never closed")
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn each_user_renders_at_most_two_tiles_at_once() {
        let slots = RenderSlots::default();
        let first = slots.acquire(1).now_or_never().expect("a free slot");
        let second = slots.acquire(1).now_or_never().expect("a free slot");
        assert!(
            slots.acquire(1).now_or_never().is_none(),
            "a third render of the same user waits"
        );
        assert!(
            slots.acquire(2).now_or_never().is_some(),
            "another user does not wait"
        );
        drop(first);
        assert!(slots.acquire(1).now_or_never().is_some(), "a slot freed");
        drop(second);
    }
}
