//! One combined checkout transaction over a batch of purchases.
//!
//! Locks are taken in one order by every batch, so batches never deadlock each other:
//! idempotency keys first (sorted), then product rows (in primary-key order). The product
//! rows of all the batch's skus are locked and read in one statement, and each sku's
//! purchases are allocated in arrival order: each takes its quantity if that much is
//! left, else it is a shortage (a later, smaller purchase may still fit; this is what one
//! transaction per purchase in arrival order would do). One statement then decrements
//! every sku by the units it sold, conditionally, and one writes an order row per sold
//! purchase; shortages join the sku's open restock request in one statement, or open one
//! and write its `stock_empty` event to the outbox.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::Utc;
use mysql_async::prelude::Queryable;
use mysql_async::{Pool, Transaction};
use stockflow_contracts::RestockRequestId;
use stockflow_contracts::events::StockEmpty;
use stockflow_kit::db;
use stockflow_messaging::outbox::{self, Enqueued};

use super::{CheckoutOutcome, Purchase, Recorded};
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

/// The product row as the allocation needs it (locked).
struct LockedProduct {
    stock: i64,
    reorder_quantity: i64,
    factory_id: String,
    open_request: Option<String>,
}

/// A purchase sold within the batch: its index and the sku's stock left after it.
struct Sold {
    purchase: usize,
    remaining_stock: i64,
}

/// A sku's purchases that did not fit: (purchase, shortfall), with the product they want.
struct Short<'a> {
    sku: &'a str,
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
    groups: &BTreeMap<&str, Vec<usize>>,
    purchases: &[Purchase],
    outcomes: &mut [Option<CheckoutOutcome>],
) -> Result<Vec<Enqueued>, mysql_async::Error> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let skus: Vec<&str> = groups.keys().copied().collect();
    let mut products = lock_products(tx, &skus).await?;
    let mut sold: Vec<Sold> = Vec::new();
    let mut totals: Vec<(&str, i64)> = Vec::new(); // sku, units sold
    let mut shortages: Vec<Short> = Vec::new();
    for (&sku, indices) in groups {
        let Some(product) = products.remove(sku) else {
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
        decrement(tx, &totals).await?;
        let order_ids = insert_orders(tx, &sold, purchases).await?;
        for (sale, order_id) in sold.iter().zip(order_ids) {
            outcomes[sale.purchase] = Some(CheckoutOutcome::Sold {
                order_id,
                remaining_stock: sale.remaining_stock,
            });
        }
    }
    let mut events = Vec::new();
    for short in shortages {
        let (request_id, event) = record_shortages(tx, short.sku, &short.product, &short.purchases, purchases).await?;
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

/// Placeholders for an `IN` list of `n` values, rounded up to a power of two (the values
/// are padded with their last one), so that the statements of batches come in a few
/// shapes that stay in the connection's statement cache.
fn in_list(n: usize) -> String {
    vec!["?"; n.max(1).next_power_of_two()].join(", ")
}

fn padded<T: Clone>(values: &[T]) -> Vec<T> {
    let mut out = values.to_vec();
    if let Some(last) = values.last() {
        out.resize(values.len().next_power_of_two(), last.clone());
    }
    out
}

/// Locks the product rows of `skus` with their open restock request, in primary-key
/// order (so batches never wait on each other in opposite orders).
async fn lock_products(
    tx: &mut Transaction<'_>,
    skus: &[&str],
) -> Result<HashMap<String, LockedProduct>, mysql_async::Error> {
    let rows: Vec<(String, i64, i64, String, Option<String>)> = tx
        .exec(
            format!(
                "SELECT p.sku, p.stock, p.reorder_quantity, p.factory_id, r.id FROM products p \
                 LEFT JOIN restock_requests r ON r.open_sku = p.sku WHERE p.sku IN ({}) ORDER BY p.sku FOR UPDATE",
                in_list(skus.len())
            ),
            padded(skus),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(sku, stock, reorder_quantity, factory_id, open_request)| {
            let product = LockedProduct {
                stock,
                reorder_quantity,
                factory_id,
                open_request,
            };
            (sku, product)
        })
        .collect())
}

/// Decrements each sku's stock by the units it sold, in one statement, conditionally
/// (though the rows are locked): every sku's row must change.
async fn decrement(tx: &mut Transaction<'_>, totals: &[(&str, i64)]) -> Result<(), mysql_async::Error> {
    let padded_totals = padded(totals);
    let case = format!("CASE sku {} END", vec!["WHEN ? THEN ?"; padded_totals.len()].join(" "));
    let mut params: Vec<mysql_async::Value> = Vec::new();
    for _ in 0..2 {
        for (sku, units) in &padded_totals {
            params.push((*sku).into());
            params.push((*units).into());
        }
    }
    params.extend(padded_totals.iter().map(|(sku, _)| mysql_async::Value::from(*sku)));
    tx.exec_drop(
        format!(
            "UPDATE products SET stock = stock - {case} WHERE stock >= {case} AND sku IN ({})",
            in_list(totals.len())
        ),
        params,
    )
    .await?;
    if tx.affected_rows() != totals.len() as u64 {
        return Err(mysql_async::Error::Other(
            "the locked stock changed under the checkout".into(),
        ));
    }
    Ok(())
}

/// Writes one order per sold purchase; returns their order ids in the same order.
async fn insert_orders(
    tx: &mut Transaction<'_>,
    sold: &[Sold],
    purchases: &[Purchase],
) -> Result<Vec<u64>, mysql_async::Error> {
    let placeholders = vec!["(?, ?, ?, ?)"; sold.len()].join(", ");
    let params: Vec<mysql_async::Value> = sold
        .iter()
        .flat_map(|sale| {
            let p = &purchases[sale.purchase];
            [
                p.sku.as_str().into(),
                p.quantity.get().into(),
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
    // (MySQL 8's interleaved auto-increment). Orders of a sku are written only under its
    // product row's lock, which this transaction holds for every sku here: the rows of
    // these skus from `first` on are exactly ours.
    let mut skus: Vec<&str> = sold.iter().map(|sale| purchases[sale.purchase].sku.as_str()).collect();
    skus.dedup();
    let mut params: Vec<mysql_async::Value> = vec![first.into()];
    params.extend(padded(&skus).into_iter().map(mysql_async::Value::from));
    params.push((sold.len() as u64).into());
    let ids: Vec<u64> = tx
        .exec(
            format!(
                "SELECT id FROM orders WHERE id >= ? AND sku IN ({}) ORDER BY id LIMIT ?",
                in_list(skus.len())
            ),
            params,
        )
        .await?;
    if ids.len() != sold.len() {
        return Err(mysql_async::Error::Other(
            format!("wrote {} orders but read back {}", sold.len(), ids.len()).into(),
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
