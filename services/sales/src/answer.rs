//! The JSON answers of a checkout, in one place: rendered once from the outcome the
//! warehouse recorded (fresh or replayed), and described in the OpenAPI document.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;
use warehouse::checkout::CheckoutOutcome;

use crate::domain::CheckoutRequest;

pub const SOLD_MESSAGE: &str = "판매완료";
pub const OUT_OF_STOCK_MESSAGE: &str = "재고부족, 제품 생산 요청";

/// 200: the purchase is sold and recorded.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "sold", "message": "판매완료", "order_id": 1, "sku": "CP-502101", "quantity": 1, "remaining_stock": 2}))]
pub struct Sold {
    /// Always `sold`.
    pub status: String,
    /// Always `판매완료`.
    pub message: String,
    pub order_id: u64,
    pub sku: String,
    pub quantity: u32,
    pub remaining_stock: i64,
}

/// 409: not enough stock; a restock request is open (this purchase opened or joined it).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "out_of_stock", "message": "재고부족, 제품 생산 요청", "sku": "CP-502101", "restock_request_id": "0b6c1c53-4a5e-4a8e-9c5b-2f1d2c3b4a5e"}))]
pub struct OutOfStock {
    /// Always `out_of_stock`.
    pub status: String,
    /// Always `재고부족, 제품 생산 요청`.
    pub message: String,
    pub sku: String,
    pub restock_request_id: String,
}

/// The answer to a sale or a shortage (`None` for an unknown sku, which is a problem
/// answer), fields in the documented order.
pub fn render(outcome: &CheckoutOutcome, request: &CheckoutRequest) -> Option<HttpResponse> {
    let response = match outcome {
        CheckoutOutcome::Sold {
            order_id,
            remaining_stock,
        } => HttpResponse::Ok().json(Sold {
            status: "sold".into(),
            message: SOLD_MESSAGE.into(),
            order_id: *order_id,
            sku: request.sku.to_string(),
            quantity: request.quantity.get(),
            remaining_stock: *remaining_stock,
        }),
        CheckoutOutcome::OutOfStock { restock_request_id, .. } => HttpResponse::Conflict().json(OutOfStock {
            status: "out_of_stock".into(),
            message: OUT_OF_STOCK_MESSAGE.into(),
            sku: request.sku.to_string(),
            restock_request_id: restock_request_id.to_string(),
        }),
        CheckoutOutcome::UnknownSku => return None,
    };
    Some(response)
}
