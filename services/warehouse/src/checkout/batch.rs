//! One combined checkout transaction over a batch of purchases (its statements:
//! [`super::statements`]).
//!
//! Locks are taken in one order by every batch, so batches never deadlock each other:
//! idempotency keys first (sorted), then product rows (in primary-key order). The product
//! rows of all the batch's skus are locked and read in one statement, and each sku's
//! purchases are allocated in arrival order: each takes its quantity if that much is
//! left, else it is a shortage (a later, smaller purchase may still fit; this is what one
//! transaction per purchase in arrival order would do). One round trip then decrements
//! every sku by the units it sold, conditionally, writes an order row per sold purchase
//! and reads their ids; shortages join the sku's open restock request in one statement, or open one
//! and write its `stock_empty` event to the outbox.

use std::collections::BTreeMap;
use std::time::Duration;

use mysql_async::{Pool, Transaction};
use stockflow_kit::db;
use stockflow_messaging::outbox::Enqueued;

use super::statements::{LockedProduct, Sold, lock_products, record_shortages, sell};
use super::{CheckoutOutcome, Purchase, Recorded};
use crate::Sku;
use crate::idempotency::{self, Claim};

/// A committed batch: each purchase's outcome, in the batch's order, and the events to
/// publish now that the transaction committed.
#[derive(Debug)]
pub struct Committed {
    pub recorded: Vec<Recorded>,
    pub events: Vec<Enqueued>,
}

/// What happens to each purchase before the outcome of the ones that go ahead is known.
enum Plan {
    /// Goes ahead; `Some(key)` to save its outcome under.
    Proceed(Option<String>),
    /// Answered by its key: replayed or refused.
    Answered(Recorded),
    /// Repeats the key of the purchase at this index within the batch.
    SameKeyAs(usize),
}

/// How often a transaction the server chose as a deadlock victim is tried.
const MAX_ATTEMPTS: u32 = 5;

/// Runs the purchases in one transaction, trying a deadlock victim again as a whole.
/// The events written are returned for the caller to publish: this is the checkout
/// itself, which [`super::Checkouts`] feeds with batches (and the bench's ceiling calls
/// with one purchase at a time).
pub async fn transact(pool: &Pool, purchases: &[Purchase]) -> Result<Committed, mysql_async::Error> {
    let mut attempt = 1;
    loop {
        match run(pool, purchases).await {
            Err(err) if attempt < MAX_ATTEMPTS && db::is_retryable(&err) => {
                tracing::warn!(error = %err, attempt, purchases = purchases.len(), "checkout transaction conflicted; retrying");
                metrics::counter!("warehouse_checkout_retries_total").increment(1);
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

async fn run(pool: &Pool, purchases: &[Purchase]) -> Result<Committed, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let mut tx = conn.start_transaction(db::tx_opts()).await?;
    let plans = claim_keys(&mut tx, purchases).await?;

    let mut outcomes: Vec<Option<CheckoutOutcome>> = vec![None; purchases.len()];
    let events = settle(&mut tx, &by_sku(purchases, &plans), purchases, &mut outcomes).await?;
    for (i, plan) in plans.iter().enumerate() {
        if let (Plan::Proceed(Some(key)), Some(outcome)) = (plan, &outcomes[i]) {
            idempotency::save(&mut tx, key, outcome).await?;
        }
    }
    tx.commit().await?;

    let recorded = plans
        .iter()
        .enumerate()
        .map(|(i, plan)| match plan {
            Plan::Proceed(_) => {
                Recorded::Fresh(outcomes[i].clone().expect("every purchase that went ahead is settled"))
            }
            Plan::Answered(recorded) => recorded.clone(),
            Plan::SameKeyAs(first) => {
                same_key_answer(&purchases[*first], &purchases[i], &plans[*first], &outcomes[*first])
            }
        })
        .collect();
    Ok(Committed { recorded, events })
}

/// Claims every key of the batch, in key order; a key repeated within the batch is
/// claimed once, by its first purchase.
async fn claim_keys(tx: &mut Transaction<'_>, purchases: &[Purchase]) -> Result<Vec<Plan>, mysql_async::Error> {
    let mut plans: Vec<Plan> = (0..purchases.len()).map(|_| Plan::Proceed(None)).collect();
    let mut first_of_key: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, purchase) in purchases.iter().enumerate() {
        if let Some(keyed) = &purchase.key {
            match first_of_key.get(keyed.key.as_str()) {
                Some(&first) => plans[i] = Plan::SameKeyAs(first),
                None => {
                    first_of_key.insert(keyed.key.as_str(), i);
                }
            }
        }
    }
    for (key, i) in first_of_key {
        let keyed = purchases[i].key.as_ref().expect("indexed by its key");
        plans[i] = match idempotency::claim(tx, keyed).await? {
            Claim::Claimed => Plan::Proceed(Some(key.to_string())),
            Claim::Taken(recorded) => Plan::Answered(recorded),
        };
    }
    Ok(plans)
}

/// The purchases that go ahead, grouped by sku (sorted), each group in arrival order.
fn by_sku<'a>(purchases: &'a [Purchase], plans: &[Plan]) -> BTreeMap<&'a Sku, Vec<usize>> {
    let mut groups: BTreeMap<&Sku, Vec<usize>> = BTreeMap::new();
    for (i, purchase) in purchases.iter().enumerate() {
        if matches!(plans[i], Plan::Proceed(_)) {
            groups.entry(&purchase.sku).or_default().push(i);
        }
    }
    groups
}

/// The answer of a purchase that repeated a key already used earlier in its batch: the
/// first one's outcome if the requests are the same, else a reused key.
fn same_key_answer(
    first: &Purchase,
    this: &Purchase,
    first_plan: &Plan,
    first_outcome: &Option<CheckoutOutcome>,
) -> Recorded {
    if first.key.as_ref().map(|k| &k.fingerprint) != this.key.as_ref().map(|k| &k.fingerprint) {
        return Recorded::KeyReused;
    }
    match (first_plan, first_outcome) {
        (Plan::Proceed(_), Some(outcome)) => Recorded::Replay(outcome.clone()),
        (Plan::Answered(recorded), _) => recorded.clone(),
        _ => Recorded::KeyReused,
    }
}

/// A sku's purchases that did not fit: (purchase, shortfall), with the product they want.
struct Short<'a> {
    sku: &'a Sku,
    product: LockedProduct,
    purchases: Vec<(usize, i64)>,
}

/// Locks every sku's product row, allocates each sku's purchases in arrival order, sells
/// (one decrement for all skus, one order row per purchase) and records the shortages;
/// returns the `stock_empty` events of the requests it opened. The statements do not
/// multiply with the skus: a batch costs the same round trips whatever it holds, save
/// for the skus that run short.
async fn settle(
    tx: &mut Transaction<'_>,
    groups: &BTreeMap<&Sku, Vec<usize>>,
    purchases: &[Purchase],
    outcomes: &mut [Option<CheckoutOutcome>],
) -> Result<Vec<Enqueued>, mysql_async::Error> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let skus: Vec<&Sku> = groups.keys().copied().collect();
    let mut products = lock_products(tx, &skus).await?;
    let mut sold: Vec<Sold> = Vec::new();
    let mut totals: Vec<(&Sku, i64)> = Vec::new(); // sku, units sold
    let mut shortages: Vec<Short> = Vec::new();
    for (&sku, indices) in groups {
        let Some(product) = products.remove(sku.as_str()) else {
            for &i in indices {
                outcomes[i] = Some(CheckoutOutcome::UnknownSku);
            }
            continue;
        };
        let mut left = product.stock;
        let mut short = Vec::new();
        for &i in indices {
            let quantity = i64::from(purchases[i].quantity.get());
            if quantity <= left {
                left -= quantity;
                sold.push(Sold {
                    purchase: i,
                    remaining_stock: left,
                });
            } else {
                short.push((i, quantity - left));
            }
        }
        if left < product.stock {
            totals.push((sku, product.stock - left));
        }
        if !short.is_empty() {
            shortages.push(Short {
                sku,
                product,
                purchases: short,
            });
        }
    }
    if !sold.is_empty() {
        let order_ids = sell(tx, &totals, &sold, purchases).await?;
        for (sale, order_id) in sold.iter().zip(order_ids) {
            outcomes[sale.purchase] = Some(CheckoutOutcome::Sold {
                order_id,
                remaining_stock: sale.remaining_stock,
            });
        }
    }
    let mut events = Vec::new();
    for short in shortages {
        let (request_id, event) =
            record_shortages(tx, short.sku.as_str(), &short.product, &short.purchases, purchases).await?;
        // The first shortage opened the request if there was none.
        let opener = event.as_ref().map(|_| short.purchases[0].0);
        for (i, _) in short.purchases {
            outcomes[i] = Some(CheckoutOutcome::OutOfStock {
                restock_request_id: request_id,
                opened: opener == Some(i),
            });
        }
        events.extend(event);
    }
    Ok(events)
}
