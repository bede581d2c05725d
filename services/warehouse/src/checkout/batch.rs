//! One combined checkout transaction over a batch of purchases.
//!
//! Locks are taken in one order by every batch, so batches never deadlock each other:
//! idempotency keys first (sorted), then product rows (sorted by sku). For each sku the
//! product row is locked and read, and its purchases are allocated in arrival order:
//! each takes its quantity if that much is left, else it is a shortage (a later, smaller
//! purchase may still fit; this is what one transaction per purchase in arrival order
//! would do). The stock is then decremented once by the sum sold, conditionally, with
//! one order row per purchase; shortages join the sku's open restock request in one
//! statement, or open one and write its `stock_empty` event to the outbox.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use mysql_async::prelude::Queryable;
use mysql_async::{Pool, Transaction};
use stockflow_shared::contracts::RestockRequestId;
use stockflow_shared::db;
use stockflow_shared::events::StockEmpty;
use stockflow_shared::outbox::{self, Enqueued};

use super::{Outcome, Purchase, Recorded};
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

    let mut outcomes: Vec<Option<Outcome>> = vec![None; purchases.len()];
    let mut events = Vec::new();
    for (sku, indices) in by_sku(purchases, &plans) {
        let event = settle_sku(&mut tx, sku, &indices, purchases, &mut outcomes).await?;
        events.extend(event);
    }
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
                    first_of_key.insert(&keyed.key, i);
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
fn by_sku<'a>(purchases: &'a [Purchase], plans: &[Plan]) -> BTreeMap<&'a str, Vec<usize>> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, purchase) in purchases.iter().enumerate() {
        if matches!(plans[i], Plan::Proceed(_)) {
            groups.entry(purchase.sku.as_str()).or_default().push(i);
        }
    }
    groups
}

/// The answer of a purchase that repeated a key already used earlier in its batch: the
/// first one's outcome if the requests are the same, else a reused key.
fn same_key_answer(first: &Purchase, this: &Purchase, first_plan: &Plan, first_outcome: &Option<Outcome>) -> Recorded {
    if first.key.as_ref().map(|k| &k.fingerprint) != this.key.as_ref().map(|k| &k.fingerprint) {
        return Recorded::KeyReused;
    }
    match (first_plan, first_outcome) {
        (Plan::Proceed(_), Some(outcome)) => Recorded::Replay(outcome.clone()),
        (Plan::Answered(recorded), _) => recorded.clone(),
        _ => Recorded::KeyReused,
    }
}

/// The product row as the allocation needs it (locked).
struct LockedProduct {
    stock: i64,
    reorder_quantity: i64,
    factory_id: String,
    open_request: Option<String>,
}

/// Locks the sku's product row, allocates its purchases in arrival order, sells and
/// records the shortages; returns the `stock_empty` event if a request was opened.
async fn settle_sku(
    tx: &mut Transaction<'_>,
    sku: &str,
    indices: &[usize],
    purchases: &[Purchase],
    outcomes: &mut [Option<Outcome>],
) -> Result<Option<Enqueued>, mysql_async::Error> {
    let row: Option<(i64, i64, String, Option<String>)> = tx
        .exec_first(
            "SELECT p.stock, p.reorder_quantity, p.factory_id, r.id FROM products p \
             LEFT JOIN restock_requests r ON r.open_sku = p.sku WHERE p.sku = ? FOR UPDATE",
            (sku,),
        )
        .await?;
    let Some((stock, reorder_quantity, factory_id, open_request)) = row else {
        for &i in indices {
            outcomes[i] = Some(Outcome::UnknownSku);
        }
        return Ok(None);
    };
    let product = LockedProduct {
        stock,
        reorder_quantity,
        factory_id,
        open_request,
    };
    let mut left = product.stock;
    let mut sold: Vec<(usize, i64)> = Vec::new(); // (purchase, stock left after it)
    let mut short: Vec<(usize, i64)> = Vec::new(); // (purchase, shortfall)
    for &i in indices {
        let quantity = i64::from(purchases[i].quantity);
        if quantity <= left {
            left -= quantity;
            sold.push((i, left));
        } else {
            short.push((i, quantity - left));
        }
    }
    if !sold.is_empty() {
        let order_ids = sell(tx, sku, product.stock - left, &sold, purchases).await?;
        for ((i, remaining_stock), order_id) in sold.into_iter().zip(order_ids) {
            outcomes[i] = Some(Outcome::Sold {
                order_id,
                remaining_stock,
            });
        }
    }
    if short.is_empty() {
        return Ok(None);
    }
    let (request_id, event) = record_shortages(tx, sku, &product, &short, purchases).await?;
    for (i, _) in short {
        outcomes[i] = Some(Outcome::OutOfStock {
            restock_request_id: request_id,
        });
    }
    Ok(event)
}

/// Decrements the stock by `total` (conditionally, though the row is locked) and
/// writes one order per sold purchase; returns their order ids in the same order.
async fn sell(
    tx: &mut Transaction<'_>,
    sku: &str,
    total: i64,
    sold: &[(usize, i64)],
    purchases: &[Purchase],
) -> Result<Vec<u64>, mysql_async::Error> {
    tx.exec_drop(
        "UPDATE products SET stock = stock - ? WHERE sku = ? AND stock >= ?",
        (total, sku, total),
    )
    .await?;
    if tx.affected_rows() != 1 {
        return Err(mysql_async::Error::Other(
            format!("the locked stock of {sku} changed under the checkout").into(),
        ));
    }
    let placeholders = vec!["(?, ?, ?, ?)"; sold.len()].join(", ");
    let params: Vec<mysql_async::Value> = sold
        .iter()
        .flat_map(|&(i, _)| {
            let p = &purchases[i];
            [
                sku.into(),
                p.quantity.into(),
                p.requester.as_str().into(),
                p.correlation_id.as_str().into(),
            ]
        })
        .collect();
    tx.exec_drop(
        format!("INSERT INTO orders (sku, quantity, requester, correlation_id) VALUES {placeholders}"),
        params,
    )
    .await?;
    let first = tx.last_insert_id().unwrap_or_default();
    if sold.len() == 1 {
        return Ok(vec![first]);
    }
    // The ids of a multi-row insert increase in row order, but need not be consecutive
    // (MySQL 8's interleaved auto-increment). Orders of this sku are written only under
    // its product row's lock, which this transaction holds: these are exactly ours.
    let ids: Vec<u64> = tx
        .exec(
            "SELECT id FROM orders WHERE sku = ? AND id >= ? ORDER BY id LIMIT ?",
            (sku, first, sold.len() as u64),
        )
        .await?;
    if ids.len() != sold.len() {
        return Err(mysql_async::Error::Other(
            format!("wrote {} orders of {sku} but read back {}", sold.len(), ids.len()).into(),
        ));
    }
    Ok(ids)
}

/// Joins the sku's open restock request with every shortage at once, or opens one
/// (ordering the reorder quantity, or the first shortfall if larger) and enqueues its
/// `stock_empty` event.
async fn record_shortages(
    tx: &mut Transaction<'_>,
    sku: &str,
    product: &LockedProduct,
    short: &[(usize, i64)],
    purchases: &[Purchase],
) -> Result<(RestockRequestId, Option<Enqueued>), mysql_async::Error> {
    let count = short.len() as i64;
    if let Some(id) = &product.open_request {
        tx.exec_drop(
            "UPDATE restock_requests SET shortages = shortages + ? WHERE id = ?",
            (count, id),
        )
        .await?;
        let id: RestockRequestId = id
            .parse()
            .map_err(|err: uuid::Error| mysql_async::Error::Other(err.into()))?;
        return Ok((id, None));
    }
    let (first, shortfall) = short[0];
    let opener = &purchases[first];
    let id = RestockRequestId::new();
    let requested_at = Utc::now();
    let quantity = product.reorder_quantity.max(shortfall);
    tx.exec_drop(
        "INSERT INTO restock_requests (id, sku, quantity, factory_id, requester, shortages, correlation_id, requested_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            id.to_string(),
            sku,
            quantity,
            &product.factory_id,
            &opener.requester,
            count,
            &opener.correlation_id,
            requested_at.naive_utc(),
        ),
    )
    .await?;
    let event = StockEmpty {
        restock_request_id: id,
        sku: sku.to_string(),
        quantity: quantity as u32,
        factory_id: product.factory_id.clone(),
        requester: opener.requester.clone(),
        requested_at,
    };
    let enqueued = outbox::enqueue(tx, &event, &id.to_string(), &opener.correlation_id)
        .await
        .map_err(|err| mysql_async::Error::Other(err.into()))?;
    Ok((id, Some(enqueued)))
}
