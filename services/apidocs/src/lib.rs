//! `stockflow-apidocs`: serving an HTTP service's OpenAPI document at `/openapi.json` and
//! Swagger UI at `/docs` (its assets are compiled in: it works offline). Sales and the
//! factory use it; the workers, whose port serves only health and metrics, do not.

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
