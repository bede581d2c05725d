//! "Nothing forgotten": a restock request still open past a bound
//! (`RESTOCK_REPUBLISH_SECONDS`) has its `stock_empty` event written to the outbox again,
//! and the outbox relay publishes it. A message lost outside stockflow (a broker that
//! restarted and lost its queues, a purge, a message dead-lettered and dropped) then
//! delays a restock; it never drops it. Downstream is idempotent: the factory returns
//! the same production order for the same restock request (and publishes its completion
//! again if it already finished), and stock-inc-worker applies a production order once.
//!
//! The warehouse does the re-enqueueing (`warehouse::republish`), at most one new event
//! per open request per bound however many sales replicas run; this task runs it
//! periodically and says what it did.

use std::time::Duration;

use mysql_async::Pool;
use stockflow_kit::periodic::{Pace, Periodic};
use tokio_util::sync::CancellationToken;

/// Re-enqueues the events of overdue open restock requests, periodically.
pub struct Republisher {
    pool: Pool,
    bound: Duration,
}

impl Republisher {
    pub fn new(pool: Pool, bound: Duration) -> Self {
        Self { pool, bound }
    }

    /// Checks every half bound (at least once a second, at most once a minute) until
    /// `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let every = (self.bound / 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
        Periodic::new("republish_overdue_restocks", every)
            .run(shutdown, || async {
                let count = warehouse::republish::overdue_events(&self.pool, self.bound).await?;
                if count > 0 {
                    metrics::counter!("restock_events_republished_total").increment(count as u64);
                    tracing::warn!(
                        count,
                        bound_seconds = self.bound.as_secs(),
                        "restock requests open past the bound: their stock_empty events are published again \
                         (a message was lost or is still retrying; see docs/operations.md)"
                    );
                }
                Ok(Pace::Steady)
            })
            .await
    }
}
