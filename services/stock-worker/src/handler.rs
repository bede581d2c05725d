//! What stock-worker does with one `stock_empty` message.

use stockflow_contracts::events::StockEmpty;
use stockflow_messaging::consumer::{Delivery, Disposition, Handler};

use crate::factory_client::{FactoryAnswer, FactoryClient};

pub struct OrderFromFactory {
    factory: FactoryClient,
}

impl OrderFromFactory {
    pub fn new(factory: FactoryClient) -> Self {
        Self { factory }
    }
}

impl Handler for OrderFromFactory {
    type Event = StockEmpty;

    async fn handle(&self, event: StockEmpty, delivery: &Delivery) -> Disposition {
        match self.factory.order(&event, &delivery.correlation_id).await {
            FactoryAnswer::Accepted { production_order_id } => {
                tracing::info!(sku = %event.sku, restock_request_id = %event.restock_request_id, %production_order_id, quantity = event.quantity, "ordered from the factory");
                Disposition::Done
            }
            FactoryAnswer::Refused { status, body } => {
                Disposition::Reject(format!("factory refused the order with {status}: {body}"))
            }
            FactoryAnswer::Unavailable(err) => Disposition::Retry(err),
            FactoryAnswer::Unsendable(reason) => {
                Disposition::Reject(format!("cannot order this restock from the factory: {reason}"))
            }
        }
    }
}
