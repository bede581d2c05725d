//! The transactional outbox: an event is written to the `outbox` table in the same
//! transaction as the state change it announces, and a relay publishes it to SNS.
//!
//! The relay wakes right after a commit (`OutboxSignal::notify`) and also sweeps on a
//! timer, so an event whose first publish failed (SNS down, a crash after commit) is
//! published later, never lost. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so
//! replicas of a service share the work without publishing a row twice in the normal
//! case; consumers are idempotent for the rare case (a crash between publish and mark).

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Pool, Transaction};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::events::Event;
use crate::publisher::Publisher;

/// How many rows one relay pass claims.
const BATCH: usize = 50;
/// Published rows older than this are pruned.
const KEEP_PUBLISHED_DAYS: u32 = 7;

/// Writes `event` to the outbox inside the caller's transaction.
pub async fn enqueue<E: Event>(
    tx: &mut Transaction<'_>,
    event: &E,
    aggregate_id: &str,
    correlation_id: &str,
) -> anyhow::Result<()> {
    let payload = serde_json::to_string(event)?;
    tx.exec_drop(
        "INSERT INTO outbox (topic, event_type, aggregate_id, correlation_id, payload) VALUES (?, ?, ?, ?, ?)",
        (E::TOPIC, E::TYPE, aggregate_id, correlation_id, payload),
    )
    .await?;
    Ok(())
}

/// Wakes the relay after a commit that enqueued something.
#[derive(Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// Publishes outbox rows until shut down.
pub struct Relay {
    pool: Pool,
    publisher: Publisher,
    signal: OutboxSignal,
    sweep_every: Duration,
}

type Row = (u64, String, String, String, String, chrono::NaiveDateTime);

impl Relay {
    pub fn new(pool: Pool, publisher: Publisher, signal: OutboxSignal, sweep_every: Duration) -> Self {
        Self {
            pool,
            publisher,
            signal,
            sweep_every,
        }
    }

    /// Runs until `shutdown`; publishes what is pending once more before returning.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        let mut last_prune = tokio::time::Instant::now();
        loop {
            let wait = if failures == 0 {
                self.sweep_every
            } else {
                backoff(failures).min(self.sweep_every.max(Duration::from_secs(1)))
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.signal.0.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            failures = match self.drain().await {
                Ok(()) => 0,
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "outbox relay: publishing failed; will retry");
                    failures.saturating_add(1)
                }
            };
            if last_prune.elapsed() > Duration::from_secs(3600) {
                last_prune = tokio::time::Instant::now();
                if let Err(err) = self.prune().await {
                    tracing::warn!(error = %format!("{err:#}"), "outbox relay: pruning failed");
                }
            }
        }
        if let Err(err) = self.drain().await {
            tracing::warn!(error = %format!("{err:#}"), "outbox relay: pending events stay for the next start");
        }
    }

    /// Publishes batches until nothing is pending, then records what is left.
    pub async fn drain(&self) -> anyhow::Result<()> {
        let drained = async {
            while self.publish_batch().await? == BATCH {}
            anyhow::Ok(())
        }
        .await;
        if let Ok((pending, oldest_age)) = backlog(&self.pool).await {
            metrics::gauge!("outbox_pending_events").set(pending as f64);
            metrics::gauge!("outbox_oldest_pending_age_seconds").set(oldest_age);
        }
        drained
    }

    /// Claims, publishes and marks one batch; returns how many rows it claimed.
    async fn publish_batch(&self) -> anyhow::Result<usize> {
        let mut conn = self.pool.get_conn().await?;
        let mut tx = conn.start_transaction(crate::db::tx_opts()).await?;
        let rows: Vec<Row> = tx
            .exec(
                "SELECT id, topic, event_type, correlation_id, payload, created_at FROM outbox \
                 WHERE published_at IS NULL ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
                (BATCH,),
            )
            .await?;
        let claimed = rows.len();
        let mut first_error = None;
        for (id, topic, event_type, correlation_id, payload, created_at) in rows {
            match self
                .publisher
                .publish_raw(&topic, &event_type, &correlation_id, payload)
                .await
            {
                Ok(_) => {
                    let lag = (chrono::Utc::now().naive_utc() - created_at).as_seconds_f64();
                    metrics::histogram!("outbox_publish_lag_seconds", "topic" => topic.clone()).record(lag);
                    metrics::counter!("outbox_published_total", "topic" => topic).increment(1);
                    tx.exec_drop(
                        "UPDATE outbox SET published_at = CURRENT_TIMESTAMP(6), attempts = attempts + 1 WHERE id = ?",
                        (id,),
                    )
                    .await?;
                }
                Err(err) => {
                    metrics::counter!("outbox_publish_failures_total", "topic" => topic).increment(1);
                    let message: String = format!("{err:#}").chars().take(1000).collect();
                    tx.exec_drop(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                        (message, id),
                    )
                    .await?;
                    first_error = Some(err);
                    break;
                }
            }
        }
        tx.commit().await?;
        match first_error {
            Some(err) => Err(err),
            None => Ok(claimed),
        }
    }

    async fn prune(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.get_conn().await?;
        conn.exec_drop(
            "DELETE FROM outbox WHERE published_at < CURRENT_TIMESTAMP(6) - INTERVAL ? DAY LIMIT 10000",
            (KEEP_PUBLISHED_DAYS,),
        )
        .await?;
        Ok(())
    }
}

/// Unpublished events and the age of the oldest, for `/ready`, metrics and ops.
pub async fn backlog(pool: &Pool) -> anyhow::Result<(u64, f64)> {
    let mut conn = pool.get_conn().await?;
    let row: Option<(u64, Option<f64>)> = conn
        .query_first(
            "SELECT COUNT(*), CAST(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), CURRENT_TIMESTAMP(6)) AS DOUBLE) / 1e6 \
             FROM outbox WHERE published_at IS NULL",
        )
        .await?;
    let (count, age) = row.unwrap_or((0, None));
    Ok((count, age.unwrap_or(0.0)))
}

/// 0.5 s, 1 s, 2 s, … capped at 30 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << failures.min(10).saturating_sub(1))).min(Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert!(backoff(3) > backoff(2));
        assert_eq!(backoff(60), Duration::from_secs(30));
    }
}
