//! `GET /products` and `GET /products/{sku}`.

use actix_web::{HttpResponse, web};
use mysql_async::Pool;
use stockflow_shared::problem::Problem;

use crate::domain::Sku;
use warehouse::products::{self, Product};

/// Every product with its stock and open restock request.
#[utoipa::path(get, path = "/products", tag = "products",
    responses(
        (status = 200, description = "The catalogue", body = [Product]),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_products(pool: web::Data<Pool>) -> Result<HttpResponse, Problem> {
    let products = products::list(&pool).await.map_err(database_unavailable)?;
    Ok(HttpResponse::Ok().json(products))
}

/// One product.
#[utoipa::path(get, path = "/products/{sku}", tag = "products",
    params(("sku" = String, Path, description = "Product code", example = "CP-502101")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "No such sku", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_product(pool: web::Data<Pool>, sku: web::Path<String>) -> Result<HttpResponse, Problem> {
    let sku = Sku::parse(&sku).map_err(|_| unknown_sku(&sku))?;
    match products::get(&pool, sku.as_str()).await.map_err(database_unavailable)? {
        Some(product) => Ok(HttpResponse::Ok().json(product)),
        None => Err(unknown_sku(sku.as_str())),
    }
}

pub(crate) fn unknown_sku(sku: &str) -> Problem {
    Problem::not_found(
        "unknown-sku",
        "Unknown product",
        format!("no product has sku {sku:?}; GET /products lists them"),
    )
}

pub(crate) fn database_unavailable(err: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %err, "warehouse database unavailable");
    Problem::unavailable("the warehouse database is unavailable; retry shortly")
}
