//! The statements of one combined checkout transaction ([`super::batch`]), each over
//! every purchase of the batch at once: lock the product rows; sell (decrement the stock,
//! write the order rows and read their ids, in one round trip); and record a sku's
//! shortages (join its open restock request, or open one and write its `stock_empty`
//! event to the outbox). The prepared statements' `IN` lists are padded to a power of two
//! so that they stay in the connection's statement cache.

use std::collections::HashMap;

use chrono::Utc;
use mysql_async::Transaction;
use mysql_async::prelude::Queryable;
use stockflow_contracts::RestockRequestId;
use stockflow_contracts::events::StockEmpty;
use stockflow_messaging::outbox::{self, Enqueued};

use super::{Purchase, sql_text};
use crate::Sku;

/// The product row as the allocation needs it (locked).
pub(super) struct LockedProduct {
    pub(super) stock: i64,
    reorder_quantity: i64,
    factory_id: String,
    open_request: Option<String>,
}

/// A purchase sold within the batch: its index and the sku's stock left after it.
pub(super) struct Sold {
    pub(super) purchase: usize,
    pub(super) remaining_stock: i64,
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
pub(super) async fn lock_products(
    tx: &mut Transaction<'_>,
    skus: &[&Sku],
) -> Result<HashMap<String, LockedProduct>, mysql_async::Error> {
    let rows: Vec<(String, i64, i64, String, Option<String>)> = tx
        .exec(
            format!(
                "SELECT p.sku, p.stock, p.reorder_quantity, p.factory_id, r.id FROM products p \
                 LEFT JOIN restock_requests r ON r.open_sku = p.sku WHERE p.sku IN ({}) ORDER BY p.sku FOR UPDATE",
                in_list(skus.len())
            ),
            padded(&skus.iter().map(|sku| sku.as_str()).collect::<Vec<_>>()),
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

/// Sells in one round trip: decrements each sku's stock by the units it sold (one
/// statement, conditionally, though the rows are locked: every sku's row must change),
/// writes one order per sold purchase and reads their ids back, in the same order. The
/// three statements travel as one text query ([`super::sql_text`] writes its values).
pub(super) async fn sell(
    tx: &mut Transaction<'_>,
    totals: &[(&Sku, i64)],
    sold: &[Sold],
    purchases: &[Purchase],
) -> Result<Vec<u64>, mysql_async::Error> {
    let skus: Vec<String> = totals.iter().map(|(sku, _)| sql_text::sku(sku)).collect();
    let skus = skus.join(", ");
    let case: String = totals
        .iter()
        .map(|(sku, units)| format!(" WHEN {} THEN {units}", sql_text::sku(sku)))
        .collect();
    let rows: Vec<String> = sold
        .iter()
        .map(|sale| {
            let p = &purchases[sale.purchase];
            format!(
                "({}, {}, {}, {})",
                sql_text::sku(&p.sku),
                p.quantity.get(),
                sql_text::string(&p.requester),
                sql_text::string(&p.correlation_id)
            )
        })
        .collect();
    // The ids of a multi-row insert increase in row order, but need not be consecutive
    // (MySQL 8's interleaved auto-increment). Orders of a sku are written only under its
    // product row's lock, which this transaction holds for every sku here: the rows of
    // these skus from the first id on are exactly ours. They are read by the primary key
    // from that id on, forced: left to choose, MariaDB at times walks `orders_by_sku` over
    // every earlier order of a sku (millions of index reads a second on a hot sku, the
    // database's CPU per purchase six times over; docs/benchmarks.md); this way a batch
    // reads its own rows and the few another lane wrote meanwhile, however many came before.
    let statements = format!(
        "UPDATE products SET stock = stock - CASE sku{case} END WHERE stock >= CASE sku{case} END AND sku IN ({skus}); \
         INSERT INTO orders (sku, quantity, requester, correlation_id) VALUES {}; \
         SELECT id FROM orders FORCE INDEX (PRIMARY) WHERE id >= LAST_INSERT_ID() AND sku IN ({skus}) ORDER BY id LIMIT {}",
        rows.join(", "),
        sold.len()
    );
    let mut results = tx.query_iter(statements).await?;
    let decremented = results.affected_rows();
    results.collect::<mysql_async::Row>().await?; // the UPDATE's (empty) result
    results.collect::<mysql_async::Row>().await?; // the INSERT's
    let ids: Vec<u64> = results.collect().await?;
    results.drop_result().await?;
    if decremented != totals.len() as u64 {
        return Err(mysql_async::Error::Other(
            "the locked stock changed under the checkout".into(),
        ));
    }
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
pub(super) async fn record_shortages(
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
