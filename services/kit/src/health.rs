//! `/health` (the process is up), `/ready` (its dependencies answer) and `/metrics`,
//! the same on every service; workers serve them on a small HTTP port of their own.

use std::future::Future;
use std::net::TcpListener;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;

use crate::problem::resource;

/// How long one readiness check may take: a dependency that hangs (a frozen broker, a
/// database that accepts connections and never answers) is reported as such instead of
/// making `/ready` hang.
pub const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs one readiness check within [`CHECK_TIMEOUT`].
pub async fn within<F>(what: &str, check: F) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("{what} did not answer within {CHECK_TIMEOUT:?}")))
}

/// A service's dependency checks, each named (`database`, `sqs`, …).
pub trait Readiness: Send + Sync + 'static {
    fn checks(&self) -> impl Future<Output = Vec<(&'static str, anyhow::Result<()>)>>;
}

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "up"}))
}

/// 200 when every check passes, else 503; the body names what is not ready and why.
pub async fn ready<R: Readiness>(readiness: web::Data<R>) -> HttpResponse {
    let checks = readiness.checks().await;
    let all_ok = checks.iter().all(|(_, result)| result.is_ok());
    let details: serde_json::Map<String, serde_json::Value> = checks
        .into_iter()
        .map(|(name, result)| {
            let value = match result {
                Ok(()) => json!("ok"),
                Err(err) => json!(format!("{err:#}")),
            };
            (name.to_string(), value)
        })
        .collect();
    let body = json!({"status": if all_ok { "ready" } else { "not_ready" }, "checks": details});
    if all_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Adds `/health`, `/ready` and `/metrics` to an app.
pub fn routes<R: Readiness>(cfg: &mut web::ServiceConfig) {
    crate::metrics::install();
    cfg.service(resource("/health", web::get(), health))
        .service(resource("/ready", web::get(), ready::<R>))
        .service(resource("/metrics", web::get(), crate::metrics::render));
}

/// Serves `/health` and `/ready` for a worker on `listener`; stop it with the handle.
pub fn serve_worker_endpoints<R: Readiness>(
    listener: TcpListener,
    readiness: R,
) -> anyhow::Result<(ServerHandle, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let readiness = web::Data::new(readiness);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(readiness.clone())
            .configure(routes::<R>)
            .default_service(web::to(crate::problem::not_found_route))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    Ok((handle, tokio::spawn(server)))
}
