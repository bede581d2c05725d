//! The production line: finishes orders when their production time is over.
//!
//! It wakes when an order is placed, when the next order is due, and at least once a
//! second, so orders left unfinished by a crash are completed after a restart.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::Pool;
use stockflow_kit::periodic::{Pace, Periodic};
use stockflow_messaging::outbox::Outbox;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store;

const LONGEST_NAP: Duration = Duration::from_secs(1);

pub struct ProductionLine {
    pool: Pool,
    new_order: Arc<Notify>,
    outbox: Outbox,
}

impl ProductionLine {
    pub fn new(pool: Pool, new_order: Arc<Notify>, outbox: Outbox) -> Self {
        Self {
            pool,
            new_order,
            outbox,
        }
    }

    /// Finishes due orders until `shutdown`; a database error is the periodic loop's to
    /// report (`stockflow_kit::periodic`), and the line tries again a second later.
    pub async fn run(self, shutdown: CancellationToken) {
        Periodic::new("production_line", LONGEST_NAP)
            .woken_by(self.new_order.clone())
            .run(shutdown, || self.finish_due())
            .await
    }

    /// Completes every order that is due, publishes their events, and waits until the next
    /// one is due (at most a second).
    async fn finish_due(&self) -> anyhow::Result<Pace> {
        let (completed, until_next) = store::complete_due(&self.pool).await?;
        if !completed.is_empty() {
            tracing::info!(completed = completed.len(), "production finished");
            self.outbox.publish_committed(completed);
        }
        Ok(Pace::After(until_next.unwrap_or(LONGEST_NAP).min(LONGEST_NAP)))
    }
}
