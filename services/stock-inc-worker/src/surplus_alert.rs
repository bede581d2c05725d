//! A production order that arrived for a restock request another order fulfilled: it
//! is counted (`stock_arrivals_surplus_total`) and sent to `ops_alerts` as a
//! `surplus_arrival` alert, once the warehouse has recorded it. The message is deleted
//! only once that alert is published, so the alert is never lost (a redelivery after a
//! lost mark may send it twice).

use chrono::Utc;
use mysql_async::Pool;
use stockflow_contracts::events::{StockArrival, SurplusArrival};
use stockflow_messaging::consumer::{Delivery, Disposition};
use stockflow_messaging::publisher::Publisher;
use warehouse::restock::{self, Surplus};

/// Counts a newly recorded surplus arrival and alerts ops unless that was done.
pub async fn settle(
    pool: &Pool,
    alerts: &Publisher,
    delivery: &Delivery,
    arrival: &StockArrival,
    surplus: Surplus,
) -> Disposition {
    let Some(restock_request_id) = arrival.restock_request_id else {
        return Disposition::Retry(anyhow::anyhow!("a surplus arrival names no restock request"));
    };
    if surplus.newly_recorded {
        metrics::counter!("stock_arrivals_surplus_total").increment(1);
        tracing::warn!(sku = %arrival.sku, quantity = arrival.quantity, production_order_id = %arrival.production_order_id, restock_request_id = %restock_request_id, fulfilled_by = surplus.fulfilled_by.map(tracing::field::display), "a second production order for a fulfilled restock request: not applied, recorded for a person to settle");
    }
    if !surplus.alert_pending {
        return Disposition::Done;
    }
    let alert = SurplusArrival {
        production_order_id: arrival.production_order_id,
        restock_request_id,
        fulfilled_by: surplus.fulfilled_by,
        sku: arrival.sku.clone(),
        quantity: arrival.quantity,
        service: "stock-inc-worker".into(),
        correlation_id: Some(delivery.correlation_id.clone()),
        at: Utc::now(),
    };
    if let Err(err) = alerts.publish(&alert, &delivery.correlation_id).await {
        return Disposition::Retry(err.context("cannot alert ops of a surplus arrival; the message is retried"));
    }
    let order_id = arrival.production_order_id.to_string();
    if let Err(err) = restock::mark_alerted(pool, &order_id).await {
        tracing::warn!(error = %err, production_order_id = %order_id, "the surplus alert was sent but not marked; a redelivery may send it again");
    }
    Disposition::Done
}
