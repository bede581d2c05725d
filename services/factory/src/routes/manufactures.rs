//! `POST /api/manufactures` and `GET /api/manufactures/{id}`: the contract's types
//! (`stockflow_contracts::factory`) in, the contract's types out.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use mysql_async::Pool;
use stockflow_contracts::factory::{
    ManufactureCreated, ManufactureCreatedData, ManufactureStatus, ManufactureStatusData, Stage,
};
use stockflow_kit::problem::{self, BodyProblems, Problem};
use stockflow_kit::request_id::RequestId;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::contract_schemas::{ManufactureCreatedDoc, ManufactureRequestDoc, ManufactureStatusDoc};
use crate::faults::Faults;
use crate::manufacture_request;
use crate::store::{self, ProductionOrder};

/// How long production takes (shared with the routes as app data).
#[derive(Clone, Copy)]
pub struct ProductionTime(pub Duration);

/// Place a production order; a repeated `Idempotency-Key` returns the same order.
#[utoipa::path(post, path = "/api/manufactures", tag = "manufactures",
    request_body = ManufactureRequestDoc,
    params(("Idempotency-Key" = Option<String>, Header, max_length = 128, pattern = "^[!-~]{1,128}$", description = "1-128 visible ASCII characters; the same key returns the same production order")),
    responses(
        (status = 201, description = "Production order placed (or the one placed before under this key)", body = ManufactureCreatedDoc),
        (status = 422, description = "Invalid field or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        BodyProblems,
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
    let (request, raw) = manufacture_request::read(&body)?;
    faults.before_request().await?;
    let key = stockflow_kit::problem::idempotency_key(http.headers())?;
    let (order, created) = store::create(&pool, &request, &raw, key.as_ref(), &request_id.0, production_time.0)
        .await
        .map_err(database_unavailable)?;
    metrics::counter!("production_orders_total", "result" => if created { "created" } else { "replayed" }).increment(1);
    if created {
        new_order.notify_one();
        tracing::info!(production_order_id = %order.id, product_id = %order.product_id, quantity = order.quantity, "production order accepted");
    } else {
        tracing::info!(production_order_id = %order.id, "repeated request: returning the existing production order");
    }
    Ok(HttpResponse::Created().json(ManufactureCreated {
        data: ManufactureCreatedData {
            id: order.id,
            reqestor: order.requester,
            data: order.request,
        },
    }))
}

/// A production order and its stage.
#[utoipa::path(get, path = "/api/manufactures/{id}", tag = "manufactures",
    params(("id" = String, Path, description = "Production order id")),
    responses(
        (status = 200, description = "The order", body = ManufactureStatusDoc),
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
    Ok(HttpResponse::Ok().json(ManufactureStatus {
        data: ManufactureStatusData {
            id: order.id,
            stage: stage(&order),
            product_id: order.product_id,
            quantity: order.quantity,
            factory_id: order.factory_id,
            reqestor: order.requester,
            message_group_id: order.message_group_id,
            created_at: order.created_at,
            ready_at: order.ready_at,
            completed_at: order.completed_at,
        },
    }))
}

/// The legacy stages: 시작 (started), 준비 (preparing), 생산 (producing), 포장
/// (packing) over the production time, then 종료 (done) once completed.
fn stage(order: &ProductionOrder) -> Stage {
    if order.completed_at.is_some() {
        return Stage::Done;
    }
    let total = (order.ready_at - order.created_at).num_milliseconds().max(1) as f64;
    let elapsed = (Utc::now() - order.created_at).num_milliseconds() as f64;
    match elapsed / total {
        f if f < 0.25 => Stage::Started,
        f if f < 0.5 => Stage::Preparing,
        f if f < 0.75 => Stage::Producing,
        _ => Stage::Packing,
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
            request: serde_json::json!({}),
            created_at,
            ready_at: created_at + production,
            completed_at: completed.then(Utc::now),
        }
    }

    #[test]
    fn stages_follow_the_elapsed_share_of_production_time() {
        let minute = chrono::Duration::seconds(60);
        for (elapsed, completed, expected) in [
            (1, false, Stage::Started),
            (20, false, Stage::Preparing),
            (40, false, Stage::Producing),
            (55, false, Stage::Packing),
            (90, true, Stage::Done),
        ] {
            let order = order(minute, chrono::Duration::seconds(elapsed), completed);
            assert_eq!(stage(&order), expected, "{elapsed} s into a minute of production");
        }
    }
}
