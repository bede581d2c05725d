//! `POST /checkout`: sell from stock, or report the shortage and its restock request.

use actix_web::{HttpResponse, web};
use mysql_async::Pool;
use serde_json::json;
use stockflow_shared::outbox::OutboxSignal;
use stockflow_shared::problem::Problem;
use stockflow_shared::request_id::RequestId;

use super::products::{database_unavailable, unknown_sku};
use crate::domain::CheckoutRequest;
use crate::store::{self, Checkout};

pub const SOLD_MESSAGE: &str = "판매완료";
pub const OUT_OF_STOCK_MESSAGE: &str = "재고부족, 제품 생산 요청";
/// The largest body a checkout reads.
const BODY_LIMIT: usize = 64 * 1024;

pub async fn checkout(
    pool: web::Data<Pool>,
    outbox: web::Data<OutboxSignal>,
    request_id: RequestId,
    body: web::Payload,
) -> Result<HttpResponse, Problem> {
    let body = body
        .to_bytes_limited(BODY_LIMIT)
        .await
        .map_err(|_| Problem::body_too_large(BODY_LIMIT))?
        .map_err(|err| Problem::malformed_body(format!("cannot read the body: {err}")))?;
    let request = CheckoutRequest::parse(&body)?;
    let outcome = store::checkout(&pool, &request, &request_id.0)
        .await
        .map_err(database_unavailable)?;
    Ok(match outcome {
        Checkout::Sold {
            order_id,
            remaining_stock,
        } => {
            tracing::info!(sku = %request.sku, quantity = request.quantity.get(), order_id, remaining_stock, "sold");
            HttpResponse::Ok().json(json!({
                "status": "sold",
                "message": SOLD_MESSAGE,
                "order_id": order_id,
                "sku": request.sku.as_str(),
                "quantity": request.quantity.get(),
                "remaining_stock": remaining_stock,
            }))
        }
        Checkout::OutOfStock {
            restock_request_id,
            opened,
        } => {
            if opened {
                outbox.notify();
            }
            tracing::info!(sku = %request.sku, quantity = request.quantity.get(), %restock_request_id, opened, "out of stock");
            HttpResponse::Conflict().json(json!({
                "status": "out_of_stock",
                "message": OUT_OF_STOCK_MESSAGE,
                "sku": request.sku.as_str(),
                "restock_request_id": restock_request_id,
            }))
        }
        Checkout::UnknownSku => return Err(unknown_sku(request.sku.as_str())),
    })
}
