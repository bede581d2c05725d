//! `POST /checkout`: sell from stock, or report the shortage and its restock request.
//! With an `Idempotency-Key` header, a repeated request replays the first answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use mysql_async::Pool;
use stockflow_shared::outbox::Outbox;
use stockflow_shared::problem::{self, Problem};
use stockflow_shared::request_id::RequestId;

use super::products::{database_unavailable, unknown_sku};
use crate::answer::{self, OutOfStock, Sold};
use crate::domain::{CheckoutBody, CheckoutRequest, IdempotencyKey};
use crate::store::{self, Checkout, Recorded};

/// Header set on a replayed answer.
const REPLAYED: &str = "idempotency-replayed";

/// Buy: sold at once from stock, or out of stock with the restock request it opened
/// or joined.
#[utoipa::path(post, path = "/checkout", tag = "checkout",
    request_body(content = CheckoutBody, description = "The new body or the original system's body"),
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body (24 h)", pattern = "^[!-~]{1,128}$"),
        ("X-Request-Id" = Option<String>, Header, description = "Follows the purchase through every service; echoed"),
    ),
    responses(
        (status = 200, description = "Sold", body = Sold),
        (status = 409, description = "Out of stock: restock requested", body = OutOfStock),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown sku", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, or an Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn checkout(
    pool: web::Data<Pool>,
    outbox: web::Data<Outbox>,
    request_id: RequestId,
    http: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Problem> {
    let body = problem::read_body(body).await?;
    let request = CheckoutRequest::parse(&body)?;
    let key = IdempotencyKey::from_headers(http.headers())?;
    let recorded = store::checkout(&pool, &request, &request_id.0, key.as_ref())
        .await
        .map_err(database_unavailable)?;
    let outcome = match recorded {
        Recorded::Fresh(outcome) => outcome,
        Recorded::Replay { status, body } => {
            metrics::counter!("sales_checkouts_total", "outcome" => "replayed").increment(1);
            tracing::info!(sku = %request.sku, status, "idempotency key seen before: replaying the first answer");
            return Ok(
                HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                    .insert_header((REPLAYED, "true"))
                    .content_type("application/json")
                    .body(body),
            );
        }
        Recorded::KeyReused => return Err(IdempotencyKey::reused()),
    };
    match &outcome {
        Checkout::Sold {
            order_id,
            remaining_stock,
        } => {
            metrics::counter!("sales_checkouts_total", "outcome" => "sold").increment(1);
            tracing::debug!(sku = %request.sku, quantity = request.quantity.get(), order_id, remaining_stock, "sold")
        }
        Checkout::OutOfStock {
            restock_request_id,
            event,
        } => {
            let opened = event.is_some();
            outbox.publish_committed(event.iter().cloned().collect());
            metrics::counter!("sales_checkouts_total", "outcome" => "out_of_stock").increment(1);
            tracing::info!(sku = %request.sku, quantity = request.quantity.get(), %restock_request_id, opened, "out of stock");
        }
        Checkout::UnknownSku => {
            metrics::counter!("sales_checkouts_total", "outcome" => "unknown_sku").increment(1);
            return Err(unknown_sku(request.sku.as_str()));
        }
    }
    let (status, body) = answer::of(&outcome, &request).expect("sold or out of stock has an answer");
    Ok(
        HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
            .content_type("application/json")
            .body(body),
    )
}
