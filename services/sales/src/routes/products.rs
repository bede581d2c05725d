//! `GET /products` and `GET /products/{sku}`.

use actix_web::http::header::LINK;
use actix_web::{HttpRequest, HttpResponse, web};
use mysql_async::Pool;
use stockflow_kit::problem::Problem;

use crate::domain::PageRequest;
use warehouse::Sku;
use warehouse::products::{self, Product};

/// The catalogue by sku, a page at a time (keyset pagination), or whole for the legacy
/// call without `limit` and `after`.
#[utoipa::path(get, path = "/products", tag = "products",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, example = 100,
            description = "Products per page, 1 to 1000 (100 when only `after` is given). Paging starts when `limit` or `after` is given; without both the whole catalogue is answered, as for legacy clients."),
        ("after" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,32}$", example = "CP-502101",
            description = "The cursor: the page holds the products whose sku sorts after this one (the last sku of the page before). Follow the `Link` header's `rel=\"next\"` rather than building it."),
    ),
    responses(
        (status = 200, description = "Products by sku: a page, or the whole catalogue without `limit` and `after`", body = [Product],
            headers(("Link" = String, description = "`</products?limit=N&after=SKU>; rel=\"next\"` when a page may follow; absent on the last page and on the whole catalogue"))),
        (status = 422, description = "A limit that is not a whole number from 1 to 1000, or a cursor that is not a sku", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_products(pool: web::Data<Pool>, request: HttpRequest) -> Result<HttpResponse, Problem> {
    let Some(page) = PageRequest::from_query(request.query_string())? else {
        let products = products::list(&pool).await.map_err(database_unavailable)?;
        return Ok(HttpResponse::Ok().json(products));
    };
    let limit = page.limit.get();
    // One product more than the page tells whether another page follows.
    let mut products = products::page(&pool, page.after.as_ref().map(Sku::as_str), limit + 1)
        .await
        .map_err(database_unavailable)?;
    let mut answer = HttpResponse::Ok();
    if products.len() > limit as usize {
        products.truncate(limit as usize);
        let next = products
            .last()
            .and_then(|last| Sku::parse(&last.sku).ok())
            .map(|last| page.next(last));
        if let Some(next) = next {
            answer.insert_header((LINK, format!("<{}>; rel=\"next\"", next.path())));
        }
    }
    Ok(answer.json(products))
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
