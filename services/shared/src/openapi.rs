//! Serving a service's OpenAPI document at `/openapi.json` and Swagger UI at `/docs`
//! (its assets are compiled in: it works offline).

use actix_web::web;
use utoipa_swagger_ui::SwaggerUi;

pub fn routes(cfg: &mut web::ServiceConfig, document: utoipa::openapi::OpenApi) {
    cfg.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", document))
        .route(
            "/docs",
            web::get().to(|| async {
                actix_web::HttpResponse::PermanentRedirect()
                    .insert_header(("location", "/docs/"))
                    .finish()
            }),
        );
}
