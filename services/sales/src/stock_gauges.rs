//! Stock and open restock requests as Prometheus gauges, read from the warehouse
//! every few seconds through the warehouse's reports (three small aggregate queries;
//! the checkout path is not touched). Their number does not grow with the catalogue:
//! per-sku stock is the API's (`GET /products/{sku}`) and `stockctl status`'s.
//! - `warehouse_products`: products in the catalogue;
//! - `warehouse_products_out_of_stock`: of them, those with no unit in stock;
//! - `warehouse_units_in_stock`: units in stock, all products together;
//! - `restock_requests_open`: restock requests not yet fulfilled;
//! - `restock_request_oldest_open_age_seconds`: how long the oldest of them has been
//!   open (0 when none is);
//! - `surplus_arrivals_unsettled`: production orders that arrived for an already
//!   fulfilled restock request and wait for a person's decision (`stockctl surplus`).
//!
//! Every sales replica exports the same values (the database is shared): aggregate
//! with `max`, never `sum`. A failed read keeps the last values (the error policy is
//! `stockflow_kit::periodic`'s).

use std::time::Duration;

use mysql_async::Pool;
use stockflow_kit::periodic::{Pace, Periodic};
use tokio_util::sync::CancellationToken;
use warehouse::reports;

/// How often the warehouse is read.
const READ_EVERY: Duration = Duration::from_secs(5);

/// Reads the gauges every [`READ_EVERY`] until `shutdown`.
pub async fn run(pool: Pool, shutdown: CancellationToken) {
    Periodic::new("stock_gauges", READ_EVERY)
        .run(shutdown, || async {
            read(&pool).await?;
            Ok(Pace::Steady)
        })
        .await
}

async fn read(pool: &Pool) -> Result<(), mysql_async::Error> {
    let stock = reports::stock_summary(pool).await?;
    metrics::gauge!("warehouse_products").set(stock.products as f64);
    metrics::gauge!("warehouse_products_out_of_stock").set(stock.out_of_stock as f64);
    metrics::gauge!("warehouse_units_in_stock").set(stock.units as f64);
    let restocks = reports::open_restock_summary(pool).await?;
    metrics::gauge!("restock_requests_open").set(restocks.open as f64);
    metrics::gauge!("restock_request_oldest_open_age_seconds").set(restocks.oldest_age_seconds);
    let surplus = reports::unsettled_surplus(pool).await?;
    metrics::gauge!("surplus_arrivals_unsettled").set(surplus.len() as f64);
    Ok(())
}
