//! A service binary's life, the same for every service: telemetry, settings from the
//! environment, the service built, one line saying which port it serves, then running
//! until SIGTERM or Ctrl-C. Each binary's `main` is one call to [`run`].

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::{config, shutdown, telemetry};

/// A built service, ready to serve.
pub trait Service {
    /// The port it answers on (its API, or a worker's `/health` and `/ready`).
    fn port(&self) -> u16;

    /// Serves until `shutdown`, then finishes its work in hand.
    fn run_until_stopped(self, shutdown: CancellationToken) -> impl Future<Output = anyhow::Result<()>>;
}

/// Runs the service `name` that `build` makes from its settings.
pub async fn run<S, F, A>(name: &'static str, build: impl FnOnce(S) -> F) -> anyhow::Result<()>
where
    S: DeserializeOwned + Serialize + Default,
    F: Future<Output = anyhow::Result<A>>,
    A: Service,
{
    telemetry::init(name);
    let settings: S = config::from_env()?;
    let service = build(settings).await?;
    tracing::info!(port = service.port(), "{name} serving");
    service.run_until_stopped(shutdown::on_signal()).await
}
