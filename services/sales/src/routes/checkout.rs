//! `POST /checkout`: sell from stock, or report the shortage and its restock request.
//! With an `Idempotency-Key` header, a repeated request replays the first answer.

use actix_web::http::header::HeaderValue;
use actix_web::{HttpRequest, HttpResponse, web};
use stockflow_kit::problem::{self, BodyProblems, Problem};
use stockflow_kit::request_id::RequestId;
use warehouse::checkout::{CheckoutOutcome, Checkouts, KeyedRequest, Purchase, Recorded};

use super::products::{database_unavailable, unknown_sku};
use crate::answer::{self, OutOfStock, Sold};
use crate::domain::{CheckoutBody, CheckoutRequest};

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
        (status = 404, description = "Unknown sku", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, or an Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        BodyProblems,
    ))]
pub async fn checkout(
    checkouts: web::Data<Checkouts>,
    request_id: RequestId,
    http: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Problem> {
    let body = problem::read_body(body).await?;
    let request = CheckoutRequest::parse(&body)?;
    let key = stockflow_kit::problem::idempotency_key(http.headers())?;
    let purchase = Purchase {
        sku: request.sku.clone(),
        quantity: request.quantity,
        requester: request.requester.clone(),
        correlation_id: request_id.0,
        key: key.map(|key| KeyedRequest {
            key,
            fingerprint: request.fingerprint(),
        }),
    };
    let (outcome, replayed) = match checkouts.checkout(purchase).await.map_err(database_unavailable)? {
        Recorded::Fresh(outcome) => (outcome, false),
        Recorded::Replay(outcome) => (outcome, true),
        Recorded::KeyReused => return Err(stockflow_kit::problem::idempotency_key_reused()),
    };
    let counted = if replayed { "replayed" } else { outcome_label(&outcome) };
    metrics::counter!("sales_checkouts_total", "outcome" => counted).increment(1);
    match &outcome {
        _ if replayed => {
            tracing::info!(sku = %request.sku, "idempotency key seen before: replaying the first answer")
        }
        CheckoutOutcome::Sold {
            order_id,
            remaining_stock,
        } => tracing::debug!(sku = %request.sku, quantity = request.quantity.get(), order_id, remaining_stock, "sold"),
        CheckoutOutcome::OutOfStock {
            restock_request_id,
            opened,
        } => {
            tracing::info!(sku = %request.sku, quantity = request.quantity.get(), %restock_request_id, opened, "out of stock")
        }
        CheckoutOutcome::UnknownSku => {}
    }
    let Some(mut response) = answer::render(&outcome, &request) else {
        return Err(unknown_sku(request.sku.as_str()));
    };
    if replayed {
        response.headers_mut().insert(
            REPLAYED.parse().expect("a valid header name"),
            HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

fn outcome_label(outcome: &CheckoutOutcome) -> &'static str {
    match outcome {
        CheckoutOutcome::Sold { .. } => "sold",
        CheckoutOutcome::OutOfStock { .. } => "out_of_stock",
        CheckoutOutcome::UnknownSku => "unknown_sku",
    }
}
