//! The bare service: the smallest HTTP service around the checkout transaction. hyper
//! HTTP/1.1 on one thread (as sales with its default `SALES_WORKERS=1`), the ceiling's
//! transaction on a pool of the services' options, and nothing else: no routing,
//! validation, request ids, logging, metrics, outbox or idempotency.
//!
//! It runs as a child process of the bench (`--bare-service-port`), so that like sales it
//! is a third process between the load and the database. Measured next to sales, it shows
//! what the HTTP hop costs on these cores by itself, apart from anything stockflow does.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use mysql_async::Pool;
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

use crate::ceiling;
use crate::load::RequestOutcome;

/// Connections of the bare service's pool: sales' default `DB_POOL_MAX`.
const POOL_SIZE: usize = 16;

#[derive(Deserialize)]
struct Purchase {
    sku: String,
    quantity: u32,
}

/// Serves checkouts on 127.0.0.1:`port` against `database` until the process is killed.
/// Runs in the child process, on a single-threaded runtime.
pub async fn serve(mysql_url: &str, database: &str, port: u16) -> anyhow::Result<()> {
    let server = mysql_async::Opts::from_url(mysql_url)?;
    let opts = mysql_async::OptsBuilder::from_opts(server).db_name(Some(database));
    let pool = Pool::new(stockflow_kit::db::pool_opts(opts.into(), POOL_SIZE)?);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let pool = pool.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(pool.clone(), request));
            // A connection error ends that connection only.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Any request: a purchase `{"sku", "quantity"}` answered 200 (sold), 409 (out of
/// stock), 400 (not a purchase) or 500.
async fn answer(pool: Pool, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = request.into_body().collect().await?.to_bytes();
    let status = match serde_json::from_slice::<Purchase>(&body) {
        Ok(purchase) => match ceiling::checkout(&pool, &purchase.sku, purchase.quantity).await {
            RequestOutcome::Sold => StatusCode::OK,
            RequestOutcome::OutOfStock => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
        Err(_) => StatusCode::BAD_REQUEST,
    };
    let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
    *response.status_mut() = status;
    Ok(response)
}

/// The bare service running as a child process of the bench.
pub struct BareService {
    pub addr: SocketAddr,
    child: Child,
}

impl BareService {
    /// Starts this executable as the bare service on the ceiling's `database` and waits
    /// until it accepts connections.
    pub async fn start(mysql_url: &str, database: &str) -> anyhow::Result<Self> {
        let port = crate::system::free_port()?;
        let child = Command::new(std::env::current_exe()?)
            .args(["--mysql-url", mysql_url, "--bare-service-db", database])
            .args(["--bare-service-port", &port.to_string()])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).await.is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the bare service did not listen on {addr} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Self { addr, child })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the child (it holds nothing worth a graceful stop) and reaps it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
