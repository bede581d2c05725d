//! The Factory API's OpenAPI 3.1 document (the legacy contract), generated from the
//! handlers and the schemas of the contract's types (`crate::contract_schemas`); the
//! contract itself (`stockflow_contracts::factory`) is serde only, and stock-worker's
//! client uses it too.

use stockflow_kit::problem::Problem;
use utoipa::OpenApi;

use crate::contract_schemas::{
    ManufactureCreatedDataDoc, ManufactureCreatedDoc, ManufactureRequestDoc, ManufactureStatusDataDoc,
    ManufactureStatusDoc, StageDoc,
};
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "stockflow Factory API",
        description = "The legacy manufacturing contract: place a production order (deduplicated by Idempotency-Key) and watch its stage. Completions are published to SNS stock_arrival."
    ),
    paths(routes::create_manufacture, routes::get_manufacture),
    components(schemas(
        ManufactureRequestDoc,
        ManufactureCreatedDoc,
        ManufactureCreatedDataDoc,
        ManufactureStatusDoc,
        ManufactureStatusDataDoc,
        StageDoc,
        Problem
    ))
)]
pub struct ApiDoc;
