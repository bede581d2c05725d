//! Running an HTTP service with its outbox relay until shutdown: on the signal the
//! server stops accepting, drains in-flight requests, and the relay publishes what
//! the outbox still holds.

use actix_web::dev::Server;
use tokio_util::sync::CancellationToken;

use crate::outbox::Relay;

/// The number of HTTP worker threads: `configured`, or one per core when it is 0.
pub fn http_workers(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

pub async fn serve_until_stopped(server: Server, relay: Relay, shutdown: CancellationToken) -> anyhow::Result<()> {
    let handle = server.handle();
    let relay = tokio::spawn(relay.run(shutdown.clone()));
    let stopper = tokio::spawn(async move {
        shutdown.cancelled().await;
        handle.stop(true).await;
    });
    let served = server.await;
    stopper.abort();
    relay.await.ok();
    Ok(served?)
}
