//! The production line: finishes orders when their production time is over.
//!
//! It wakes when an order is placed, when the next order is due, and at least once a
//! second, so orders left unfinished by a crash are completed after a restart.

use std::time::Duration;

use mysql_async::Pool;
use std::sync::Arc;
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

    pub async fn run(self, shutdown: CancellationToken) {
        let mut nap = Duration::ZERO;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.new_order.notified() => {}
                _ = tokio::time::sleep(nap) => {}
            }
            nap = match store::complete_due(&self.pool).await {
                Ok((completed, until_next)) => {
                    if !completed.is_empty() {
                        tracing::info!(completed = completed.len(), "production finished");
                        self.outbox.publish_committed(completed);
                    }
                    until_next.unwrap_or(LONGEST_NAP).min(LONGEST_NAP)
                }
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "production line cannot reach its database; retrying");
                    LONGEST_NAP
                }
            };
        }
    }
}
