//! The Sales API's OpenAPI 3.1 document, generated from the handlers and types.

use utoipa::OpenApi;

use crate::answer::{OutOfStock, Sold};
use crate::domain::{CheckoutBody, LegacyBody, ModernBody};
use crate::routes;
use stockflow_kit::problem::Problem;
use warehouse::products::{OpenRestock, Product};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "stockflow Sales API",
        description = "Sell from the warehouse atomically; a shortage opens (or joins) a restock request that the factory fulfils. Errors are RFC 9457 problem+json."
    ),
    paths(routes::list_products, routes::get_product, routes::checkout),
    components(schemas(
        Product,
        OpenRestock,
        Sold,
        OutOfStock,
        Problem,
        CheckoutBody,
        ModernBody,
        LegacyBody
    ))
)]
pub struct ApiDoc;
