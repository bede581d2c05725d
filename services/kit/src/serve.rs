//! Running an HTTP service with its background work until shutdown: on the signal the
//! server stops accepting and drains in-flight requests, then the background work (the
//! outbox relay, which publishes what the outbox still holds) is awaited.

use std::future::Future;

use actix_web::dev::Server;
use tokio_util::sync::CancellationToken;

/// HTTP worker threads: the configured number, or one per core when 0.
pub fn http_workers(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Serves until `shutdown`, with `background` (which watches the same token) running
/// beside the server; returns once both are done.
pub async fn serve_until_stopped(
    server: Server,
    background: impl Future<Output = ()> + Send + 'static,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let handle = server.handle();
    let background = tokio::spawn(background);
    let stopper = tokio::spawn(async move {
        shutdown.cancelled().await;
        handle.stop(true).await;
    });
    let served = server.await;
    stopper.abort();
    background.await.ok();
    Ok(served?)
}
