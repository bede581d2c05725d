//! The Factory API's OpenAPI 3.1 document (the legacy contract), generated from the
//! handlers and the contract's types (`stockflow_contracts::factory`), which
//! stock-worker's client uses too.

use stockflow_contracts::factory::{
    ManufactureCreated, ManufactureCreatedData, ManufactureRequest, ManufactureStatus, ManufactureStatusData, Stage,
};
use stockflow_kit::problem::Problem;
use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "stockflow Factory API",
        description = "The legacy manufacturing contract: place a production order (deduplicated by Idempotency-Key) and watch its stage. Completions are published to SNS stock_arrival."
    ),
    paths(routes::create_manufacture, routes::get_manufacture),
    components(schemas(
        ManufactureRequest,
        ManufactureCreated,
        ManufactureCreatedData,
        ManufactureStatus,
        ManufactureStatusData,
        Stage,
        Problem
    ))
)]
pub struct ApiDoc;
