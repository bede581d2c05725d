//! A production order that arrived for a restock request another order fulfilled: once
//! the warehouse has recorded it, it is counted (`stock_arrivals_surplus_total`) and
//! what was recorded is sent to `ops_alerts` as a `surplus_arrival` alert. The message is deleted
//! only once that alert is published, so the alert is never lost (a redelivery after a
//! lost mark may send it twice).

use chrono::Utc;
use mysql_async::Pool;
use stockflow_contracts::events::SurplusArrival;
use stockflow_messaging::consumer::{Delivery, Disposition};
use stockflow_messaging::publisher::Publisher;
use warehouse::restock::{self, Surplus};

/// Counts a newly recorded surplus arrival and alerts ops unless that was done.
pub async fn settle(pool: &Pool, alerts: &Publisher, delivery: &Delivery, surplus: Surplus) -> Disposition {
    if surplus.newly_recorded {
        metrics::counter!("stock_arrivals_surplus_total").increment(1);
        tracing::warn!(sku = %surplus.sku, quantity = surplus.quantity, production_order_id = %surplus.production_order_id, restock_request_id = %surplus.restock_request_id, fulfilled_by = surplus.fulfilled_by.map(tracing::field::display), "a second production order for a fulfilled restock request: not applied, recorded for a person to settle");
    }
    if !surplus.alert_pending {
        return Disposition::Done;
    }
    let alert = SurplusArrival {
        production_order_id: surplus.production_order_id,
        restock_request_id: surplus.restock_request_id,
        fulfilled_by: surplus.fulfilled_by,
        sku: surplus.sku,
        quantity: surplus.quantity,
        service: "stock-inc-worker".into(),
        correlation_id: Some(delivery.correlation_id.clone()),
        at: Utc::now(),
    };
    if let Err(err) = alerts.publish(&alert, &delivery.correlation_id).await {
        return Disposition::Retry(err.context("cannot alert ops of a surplus arrival; the message is retried"));
    }
    if let Err(err) = restock::mark_alerted(pool, alert.production_order_id).await {
        tracing::warn!(error = %err, production_order_id = %alert.production_order_id, "the surplus alert was sent but not marked; a redelivery may send it again");
    }
    Disposition::Done
}
