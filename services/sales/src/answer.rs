//! The JSON answers of a checkout, in one place: the route sends them and the
//! idempotency store keeps them for replay.

use serde_json::{Value, json};

use crate::domain::CheckoutRequest;
use crate::store::Checkout;

pub const SOLD_MESSAGE: &str = "판매완료";
pub const OUT_OF_STOCK_MESSAGE: &str = "재고부족, 제품 생산 요청";

/// The status and body for a sale or a shortage (`None` for an unknown sku, which is
/// a problem answer).
pub fn of(outcome: &Checkout, request: &CheckoutRequest) -> Option<(u16, Value)> {
    match outcome {
        Checkout::Sold {
            order_id,
            remaining_stock,
        } => Some((
            200,
            json!({
                "status": "sold",
                "message": SOLD_MESSAGE,
                "order_id": order_id,
                "sku": request.sku.as_str(),
                "quantity": request.quantity.get(),
                "remaining_stock": remaining_stock,
            }),
        )),
        Checkout::OutOfStock { restock_request_id, .. } => Some((
            409,
            json!({
                "status": "out_of_stock",
                "message": OUT_OF_STOCK_MESSAGE,
                "sku": request.sku.as_str(),
                "restock_request_id": restock_request_id,
            }),
        )),
        Checkout::UnknownSku => None,
    }
}
