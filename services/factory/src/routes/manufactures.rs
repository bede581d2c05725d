//! `POST /api/manufactures` and `GET /api/manufactures/{id}`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use mysql_async::Pool;
use serde_json::json;
use stockflow_shared::problem::{self, Problem};
use stockflow_shared::request_id::RequestId;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::faults::Faults;
use crate::manufacture_request::ManufactureRequest;
use crate::openapi::{ManufactureBody, ManufactureCreated, ManufactureStatus};
use crate::store::{self, ProductionOrder};

/// How long production takes (shared with the routes as app data).
#[derive(Clone, Copy)]
pub struct ProductionTime(pub Duration);

/// Place a production order; a repeated `Idempotency-Key` returns the same order.
#[utoipa::path(post, path = "/api/manufactures", tag = "manufactures",
    request_body = ManufactureBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key returns the same production order")),
    responses(
        (status = 201, description = "Production order placed (or the one placed before under this key)", body = ManufactureCreated),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_manufacture(
    pool: web::Data<Pool>,
    production_time: web::Data<ProductionTime>,
    new_order: web::Data<Arc<Notify>>,
    faults: web::Data<Faults>,
    request_id: RequestId,
    http: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Problem> {
    let body = problem::read_body(body).await?;
    let request = ManufactureRequest::parse(&body)?;
    faults.before_request().await?;
    let key = idempotency_key(&http)?;
    let (order, created) = store::create(&pool, &request, key.as_deref(), &request_id.0, production_time.0)
        .await
        .map_err(database_unavailable)?;
    metrics::counter!("production_orders_total", "result" => if created { "created" } else { "replayed" }).increment(1);
    if created {
        new_order.notify_one();
        tracing::info!(production_order_id = %order.id, product_id = %order.product_id, quantity = order.quantity, "production order accepted");
    } else {
        tracing::info!(production_order_id = %order.id, "repeated request: returning the existing production order");
    }
    Ok(HttpResponse::Created().json(json!({
        "data": {"id": order.id, "reqestor": order.requester, "data": order.request}
    })))
}

/// A production order and its stage.
#[utoipa::path(get, path = "/api/manufactures/{id}", tag = "manufactures",
    params(("id" = String, Path, description = "Production order id")),
    responses(
        (status = 200, description = "The order", body = ManufactureStatus),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_manufacture(pool: web::Data<Pool>, id: web::Path<String>) -> Result<HttpResponse, Problem> {
    let not_found = || {
        Problem::not_found(
            "unknown-production-order",
            "Unknown production order",
            format!("no production order has id {id:?}"),
        )
    };
    let uuid = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let order = store::find(&pool, uuid)
        .await
        .map_err(database_unavailable)?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(json!({
        "data": {
            "id": order.id,
            "stage": stage(&order),
            "product_id": order.product_id,
            "quantity": order.quantity,
            "factory_id": order.factory_id,
            "reqestor": order.requester,
            "message_group_id": order.message_group_id,
            "created_at": order.created_at,
            "ready_at": order.ready_at,
            "completed_at": order.completed_at,
        }
    })))
}

/// The legacy stages: 시작 (started), 준비 (preparing), 생산 (producing), 포장
/// (packing) over the production time, then 종료 (done) once completed.
fn stage(order: &ProductionOrder) -> &'static str {
    if order.completed_at.is_some() {
        return "종료";
    }
    let total = (order.ready_at - order.created_at).num_milliseconds().max(1) as f64;
    let elapsed = (Utc::now() - order.created_at).num_milliseconds() as f64;
    match elapsed / total {
        f if f < 0.25 => "시작",
        f if f < 0.5 => "준비",
        f if f < 0.75 => "생산",
        _ => "포장",
    }
}

fn idempotency_key(http: &HttpRequest) -> Result<Option<String>, Problem> {
    match http.headers().get("idempotency-key") {
        None => Ok(None),
        Some(value) => {
            let key = value.to_str().map(str::trim).unwrap_or_default();
            if key.is_empty() || key.len() > 128 {
                return Err(Problem::invalid_field(
                    "the Idempotency-Key header must be 1-128 visible ASCII characters",
                ));
            }
            Ok(Some(key.to_string()))
        }
    }
}

fn database_unavailable(err: anyhow::Error) -> Problem {
    tracing::error!(error = %format!("{err:#}"), "factory database unavailable");
    Problem::unavailable("the factory database is unavailable; retry shortly")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(production: chrono::Duration, elapsed: chrono::Duration, completed: bool) -> ProductionOrder {
        let created_at = Utc::now() - elapsed;
        ProductionOrder {
            id: Uuid::new_v4(),
            message_group_id: String::new(),
            product_id: "CP-502101".into(),
            quantity: 1,
            factory_id: String::new(),
            requester: String::new(),
            request: json!({}),
            created_at,
            ready_at: created_at + production,
            completed_at: completed.then(Utc::now),
        }
    }

    #[test]
    fn stages_follow_the_elapsed_share_of_production_time() {
        let minute = chrono::Duration::seconds(60);
        assert_eq!(stage(&order(minute, chrono::Duration::seconds(1), false)), "시작");
        assert_eq!(stage(&order(minute, chrono::Duration::seconds(20), false)), "준비");
        assert_eq!(stage(&order(minute, chrono::Duration::seconds(40), false)), "생산");
        assert_eq!(stage(&order(minute, chrono::Duration::seconds(55), false)), "포장");
        assert_eq!(stage(&order(minute, chrono::Duration::seconds(90), true)), "종료");
    }
}
