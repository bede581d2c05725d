//! The combiner: purchases wait in a lane (chosen by sku, so a hot sku always meets
//! its own queue) while the lane's transaction is in flight; the next transaction takes
//! everything that queued, up to the cap.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mysql_async::Pool;
use serde::{Deserialize, Serialize};
use stockflow_shared::outbox::Outbox;
use tokio::sync::{mpsc, oneshot};

use super::batch;
use super::{Purchase, Recorded};

/// How checkouts are combined (`CHECKOUT_BATCH_MAX`, `CHECKOUT_LANES`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CombineSettings {
    /// Most purchases one transaction takes; 1 is one transaction per purchase.
    pub checkout_batch_max: usize,
    /// Transactions in flight at once (per process, or per HTTP worker); skus are
    /// spread over them, a sku always to the same one.
    pub checkout_lanes: usize,
}

impl Default for CombineSettings {
    fn default() -> Self {
        Self {
            checkout_batch_max: 64,
            checkout_lanes: 4,
        }
    }
}

/// A checkout failed; nothing of it was recorded unless the commit itself was lost
/// on the way back (then the database holds it, and the answer is still an error).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CheckoutError {
    #[error("warehouse database error: {0}")]
    Database(Arc<mysql_async::Error>),
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
        let stats = Arc::new(BatchStats::default());
        let lanes = (0..settings.checkout_lanes.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run_lane(rx, pool.clone(), outbox.clone(), cap, stats.clone()));
                tx
            })
            .collect();
        Self {
            lanes: Arc::new(lanes),
            stats,
        }
    }

    /// The batches run so far.
    pub fn stats(&self) -> &BatchStats {
        &self.stats
    }

    /// Sells, or records the shortage; with a key, records the outcome with it or
    /// replays the one recorded before.
    pub async fn checkout(&self, purchase: Purchase) -> Result<Recorded, CheckoutError> {
        let (reply, answer) = oneshot::channel();
        let lane = &self.lanes[lane_of(&purchase.sku, self.lanes.len())];
        lane.send(Pending { purchase, reply })
            .map_err(|_| CheckoutError::Stopped)?;
        answer.await.unwrap_or(Err(CheckoutError::Stopped))
    }
}

/// The lane of `sku` among `lanes`: always the same one.
pub fn lane_of(sku: &str, lanes: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    sku.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

async fn run_lane(
    mut queue: mpsc::UnboundedReceiver<Pending>,
    pool: Pool,
    outbox: Option<Outbox>,
    cap: usize,
    stats: Arc<BatchStats>,
) {
    let mut batch = Vec::with_capacity(cap);
    while queue.recv_many(&mut batch, cap).await > 0 {
        let size = batch.len() as u64;
        metrics::histogram!("warehouse_checkout_batch_size").record(size as f64);
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        stats.purchases.fetch_add(size, Ordering::Relaxed);
        stats.largest.fetch_max(size, Ordering::Relaxed);
        let purchases: Vec<Purchase> = batch.iter().map(|p| p.purchase.clone()).collect();
        let result = batch::transact(&pool, &purchases).await;
        match result {
            Ok(done) => {
                if let Some(outbox) = &outbox {
                    outbox.publish_committed(done.events);
                }
                for (pending, recorded) in batch.drain(..).zip(done.recorded) {
                    pending.reply.send(Ok(recorded)).ok();
                }
            }
            Err(err) => {
                let err = CheckoutError::Database(Arc::new(err));
                for pending in batch.drain(..) {
                    pending.reply.send(Err(err.clone())).ok();
                }
            }
        }
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
