//! The load phases the scenarios measure, and the products they run on: checkouts over
//! HTTP (sales or the bare service), the same checkout straight on the database (the
//! ceiling), the bare conditional `UPDATE` (the hot row's limit), `GET /health` (the
//! HTTP floor), `GET /products/{sku}` (a read).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::Pool;
use warehouse::products::{self, NewProduct};

use crate::ceiling;
use crate::load::{self, HttpClient, Stats};

/// Skus `{prefix}00000`, `{prefix}00001`, … (`count` of them).
pub(super) fn numbered_skus(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i:05}")).collect()
}

/// The sku of the i-th request: a pseudo-random walk over `skus` (i × 7919 mod len).
struct Pick {
    skus: Arc<Vec<String>>,
    i: u64,
}

impl Pick {
    fn sku(&self) -> &str {
        &self.skus[(self.i as usize).wrapping_mul(7919) % self.skus.len()]
    }
}

pub(super) async fn insert_products(pool: &Pool, skus: &[String], stock: i64, reorder: i64) -> anyhow::Result<()> {
    let products: Vec<NewProduct> = skus
        .iter()
        .map(|sku| NewProduct {
            sku: sku.clone(),
            name: format!("bench {sku}"),
            price: 1000,
            stock,
            reorder_quantity: reorder,
            factory_id: "FF-BENCH".into(),
            factory_name: "bench factory".into(),
        })
        .collect();
    Ok(products::add(pool, &products).await?)
}

/// `skus` with `stock` each, unless an earlier scenario of the run added them (the first
/// sku is looked up): the knob sweep measures on the scenarios' products.
pub(super) async fn stock_unless_present(pool: &Pool, skus: &[String], stock: i64) -> anyhow::Result<()> {
    let Some(first) = skus.first() else {
        return Ok(());
    };
    if products::stock(pool, first).await?.is_none() {
        insert_products(pool, skus, stock, 10).await?;
    }
    Ok(())
}

/// Where a checkout phase sends its purchases.
#[derive(Clone, Copy)]
pub(super) enum Target<'a> {
    /// Over HTTP: sales, or the bare service.
    Http(SocketAddr),
    /// Straight on the database (the ceiling), one purchase per transaction.
    Sql(&'a Pool),
}

/// Checkouts of one unit per request against `target`, each of a sku of `skus`.
pub(super) async fn checkout_phase(
    target: Target<'_>,
    clients: usize,
    requests: u64,
    limit: Duration,
    skus: Arc<Vec<String>>,
) -> Stats {
    let pick = move |i| Pick { skus: skus.clone(), i };
    match target {
        Target::Http(addr) => {
            let checkout = move |mut client: HttpClient, i| {
                let pick = pick(i);
                async move {
                    let outcome = client.checkout(pick.sku(), 1).await.0;
                    (client, outcome)
                }
            };
            load::closed_loop(clients, requests, limit, || HttpClient::new(addr), checkout).await
        }
        Target::Sql(pool) => {
            let checkout = move |pool: Pool, i| {
                let pick = pick(i);
                async move {
                    let outcome = ceiling::checkout(&pool, pick.sku(), 1).await;
                    (pool, outcome)
                }
            };
            load::closed_loop(clients, requests, limit, || pool.clone(), checkout).await
        }
    }
}

/// The bare conditional decrement of `sku`, autocommit, from `clients` connections.
pub(super) async fn bare_update_phase(pool: &Pool, clients: usize, requests: u64, limit: Duration, sku: &str) -> Stats {
    let target = sku.to_string();
    load::closed_loop(
        clients,
        requests,
        limit,
        || pool.clone(),
        move |pool, _| {
            let sku = target.clone();
            async move {
                let outcome = ceiling::bare_update(&pool, &sku).await;
                (pool, outcome)
            }
        },
    )
    .await
}

/// `GET path(i)` on `target` for request i: the HTTP floor (`/health`, no work behind
/// it) or a read (`/products/{sku}`, one database read).
pub(super) async fn get_phase(
    target: SocketAddr,
    clients: usize,
    requests: u64,
    limit: Duration,
    path: impl Fn(u64) -> String + Send + Sync + 'static,
) -> Stats {
    load::closed_loop(
        clients,
        requests,
        limit,
        || HttpClient::new(target),
        move |mut client, i| {
            let path = path(i);
            async move {
                let outcome = client.get(&path).await;
                (client, outcome)
            }
        },
    )
    .await
}

/// `GET /products/{sku}` of a sku of `skus` per request (the walk `checkout_phase` takes).
pub(super) async fn read_phase(
    target: SocketAddr,
    clients: usize,
    requests: u64,
    limit: Duration,
    skus: Arc<Vec<String>>,
) -> Stats {
    let path = move |i| format!("/products/{}", Pick { skus: skus.clone(), i }.sku());
    get_phase(target, clients, requests, limit, path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_numbered_on_five_digits_and_picked_by_a_walk() {
        let skus = numbered_skus("BSP-", 3);
        assert_eq!(skus, ["BSP-00000", "BSP-00001", "BSP-00002"]);
        let skus = Arc::new(skus);
        let pick = |i| Pick { skus: skus.clone(), i }.sku().to_string();
        assert_eq!(pick(0), "BSP-00000");
        assert_eq!(pick(1), "BSP-00002"); // 7919 = 3 × 2639 + 2
        assert_eq!(pick(2), "BSP-00001");
    }
}
