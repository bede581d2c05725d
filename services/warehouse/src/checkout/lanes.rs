//! The combiner: purchases wait in a lane (chosen by sku, so a hot sku always meets
//! its own queue) while the lane's transaction is in flight; the next transaction takes
//! everything that queued, up to the cap.
//!
//! Every checkout is bounded by `CHECKOUT_TIMEOUT_MS`, waiting in the lane included: a
//! database that hangs (or a network that swallows its packets) gets the caller an
//! error in time, never a wait without end. A lane's transaction is bounded the same
//! way, so the lane frees itself, and a purchase whose caller stopped waiting is left
//! out of the next transaction: it is never carried out after its caller was told it
//! failed.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mysql_async::Pool;
use serde::{Deserialize, Serialize};
use stockflow_messaging::outbox::Outbox;
use tokio::sync::{mpsc, oneshot};

use super::batch;
use super::{Purchase, Recorded};

/// How checkouts are combined (`CHECKOUT_BATCH_MAX`, `CHECKOUT_LANES`) and how long one
/// may take (`CHECKOUT_TIMEOUT_MS`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CombineSettings {
    /// Most purchases one transaction takes; 1 is one transaction per purchase.
    pub checkout_batch_max: usize,
    /// Transactions in flight at once (per process, or per HTTP worker); skus are
    /// spread over them, a sku always to the same one.
    pub checkout_lanes: usize,
    /// Longest a checkout may take from its arrival to its answer, and a lane's
    /// transaction from its start to its commit.
    pub checkout_timeout_ms: u64,
}

impl Default for CombineSettings {
    fn default() -> Self {
        Self {
            checkout_batch_max: 64,
            checkout_lanes: 2,
            checkout_timeout_ms: 5000,
        }
    }
}

/// A checkout failed; nothing of it was recorded unless the commit itself was lost
/// on the way back (then the database holds it, and the answer is still an error).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CheckoutError {
    #[error("warehouse database error: {0}")]
    Database(Arc<mysql_async::Error>),
    /// The database did not answer in time (it hangs, or the network to it does);
    /// if the commit was on its way it may still land.
    #[error("the warehouse database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("checkout is shutting down")]
    Stopped,
}

struct Pending {
    purchase: Purchase,
    reply: oneshot::Sender<Result<Recorded, CheckoutError>>,
}

/// The checkout service of one process (or one HTTP worker): cheap to clone. The lanes
/// run until every clone is dropped.
#[derive(Clone)]
pub struct Checkouts {
    lanes: Arc<Vec<mpsc::UnboundedSender<Pending>>>,
    stats: Arc<BatchStats>,
    timeout: Duration,
}

/// How many transactions the lanes ran, and for how many purchases.
#[derive(Debug, Default)]
pub struct BatchStats {
    pub transactions: AtomicU64,
    pub purchases: AtomicU64,
    /// The largest batch so far.
    pub largest: AtomicU64,
}

impl Checkouts {
    /// Starts the lanes on the current runtime. With an outbox, the events a
    /// transaction wrote are published right after its commit; without one they wait
    /// for whoever relays the table.
    pub fn start(pool: Pool, outbox: Option<Outbox>, settings: &CombineSettings) -> Self {
        let cap = settings.checkout_batch_max.max(1);
        let timeout = Duration::from_millis(settings.checkout_timeout_ms.max(1));
        let stats = Arc::new(BatchStats::default());
        let lanes = (0..settings.checkout_lanes.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                let lane = Lane {
                    pool: pool.clone(),
                    outbox: outbox.clone(),
                    cap,
                    timeout,
                    stats: stats.clone(),
                };
                tokio::spawn(lane.run(rx));
                tx
            })
            .collect();
        Self {
            lanes: Arc::new(lanes),
            stats,
            timeout,
        }
    }

    /// The batches run so far.
    pub fn stats(&self) -> &BatchStats {
        &self.stats
    }

    /// Sells, or records the shortage; with a key, records the outcome with it or
    /// replays the one recorded before. Fails with [`CheckoutError::Timeout`] when no
    /// answer came within `CHECKOUT_TIMEOUT_MS`.
    pub async fn checkout(&self, purchase: Purchase) -> Result<Recorded, CheckoutError> {
        let (reply, answer) = oneshot::channel();
        let lane = &self.lanes[lane_of(purchase.sku.as_str(), self.lanes.len())];
        lane.send(Pending { purchase, reply })
            .map_err(|_| CheckoutError::Stopped)?;
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(answer) => answer.unwrap_or(Err(CheckoutError::Stopped)),
            Err(_) => Err(CheckoutError::Timeout(self.timeout)),
        }
    }
}

/// The lane of `sku` among `lanes`: always the same one.
pub fn lane_of(sku: &str, lanes: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    sku.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

/// One lane: its queue's consumer, running one transaction at a time.
struct Lane {
    pool: Pool,
    outbox: Option<Outbox>,
    cap: usize,
    timeout: Duration,
    stats: Arc<BatchStats>,
}

impl Lane {
    async fn run(self, mut queue: mpsc::UnboundedReceiver<Pending>) {
        let mut batch = Vec::with_capacity(self.cap);
        while queue.recv_many(&mut batch, self.cap).await > 0 {
            // A caller that stopped waiting (its deadline passed, its client left) was
            // answered with an error: its purchase must not happen after all.
            batch.retain(|pending| !pending.reply.is_closed());
            if batch.is_empty() {
                continue;
            }
            let size = batch.len() as u64;
            metrics::histogram!("warehouse_checkout_batch_size").record(size as f64);
            self.stats.transactions.fetch_add(1, Ordering::Relaxed);
            self.stats.purchases.fetch_add(size, Ordering::Relaxed);
            self.stats.largest.fetch_max(size, Ordering::Relaxed);
            let purchases: Vec<Purchase> = batch.iter().map(|p| p.purchase.clone()).collect();
            let result = tokio::time::timeout(self.timeout, batch::transact(&self.pool, &purchases)).await;
            match result {
                Ok(Ok(done)) => {
                    if let Some(outbox) = &self.outbox {
                        outbox.publish_committed(done.events);
                    }
                    for (pending, recorded) in batch.drain(..).zip(done.recorded) {
                        pending.reply.send(Ok(recorded)).ok();
                    }
                }
                Ok(Err(err)) => fail_all(&mut batch, CheckoutError::Database(Arc::new(err))),
                Err(_) => {
                    tracing::warn!(purchases = size, timeout = ?self.timeout, "checkout transaction timed out: the database does not answer");
                    fail_all(&mut batch, CheckoutError::Timeout(self.timeout))
                }
            }
        }
    }
}

/// Answers every purchase of a failed transaction with its error.
fn fail_all(batch: &mut Vec<Pending>, err: CheckoutError) {
    for pending in batch.drain(..) {
        pending.reply.send(Err(err.clone())).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sku_always_goes_to_the_same_lane() {
        for sku in ["CP-502101", "A", "HOT-1"] {
            assert_eq!(lane_of(sku, 4), lane_of(sku, 4));
            assert!(lane_of(sku, 4) < 4);
        }
        assert_eq!(lane_of("anything", 1), 0);
    }

    #[test]
    fn skus_are_spread_over_every_lane() {
        let mut used = [false; 4];
        for i in 0..100 {
            used[lane_of(&format!("SKU-{i}"), 4)] = true;
        }
        assert_eq!(used, [true; 4], "a hundred skus use all four lanes");
    }
}
