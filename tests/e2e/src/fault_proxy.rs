//! A TCP proxy that can fail, between a service and one of its dependencies (the
//! database, LocalStack, the factory), so a test can make the network to it slow or
//! broken for that service alone:
//! - [`FaultProxy::set_latency`]: every byte is delayed on its way, separately in each
//!   direction (a slow link: each round trip costs both delays);
//! - [`FaultProxy::cut`]: existing connections are closed, new ones closed at once (a
//!   dependency that is down: calls fail fast);
//! - [`FaultProxy::freeze`]: a blackhole: connections are accepted and held, nothing is
//!   relayed or answered (a dependency that hangs, or a network that swallows packets:
//!   only the caller's own timeout ends a call). The dependency's side of a connection
//!   held this way is closed, so a database rolls back what it had begun.
//!
//! [`FaultProxy::restore`] relays again; connections held while frozen are then closed (as
//! a peer's would be after a long stall) and the caller's retry opens new ones.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// For a relay to `target` (host:port): its address, and a listener on a free port of
/// 127.0.0.1 with that port.
pub(crate) async fn relay_listener(target: &str) -> (SocketAddr, TcpListener, u16) {
    let address = tokio::net::lookup_host(target)
        .await
        .unwrap_or_else(|e| panic!("looking up {target}: {e}"))
        .next()
        .unwrap_or_else(|| panic!("{target} has no address"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (address, listener, port)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Up,
    Cut,
    Frozen,
}

#[derive(Clone, Copy, Debug)]
struct Fault {
    mode: Mode,
    /// Delay of the bytes going to the dependency.
    to_target: Duration,
    /// Delay of the bytes coming back.
    to_client: Duration,
}

pub struct FaultProxy {
    port: u16,
    fault: watch::Sender<Fault>,
}

impl FaultProxy {
    /// Relays 127.0.0.1:<free port> to `target` (host:port), healthy and without delay.
    pub async fn start(target: &str) -> Self {
        let (target, listener, port) = relay_listener(target).await;
        let (fault, watch_fault) = watch::channel(Fault {
            mode: Mode::Up,
            to_target: Duration::ZERO,
            to_client: Duration::ZERO,
        });
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode = watch_fault.borrow().mode;
                match mode {
                    Mode::Cut => continue, // dropped: the connection is closed at once
                    Mode::Frozen => {
                        tokio::spawn(hold(client, watch_fault.clone()));
                    }
                    Mode::Up => {
                        tokio::spawn(relay(client, target, watch_fault.clone()));
                    }
                }
            }
        });
        Self { port, fault }
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address())
    }

    /// Delays what goes to the dependency by `to_target` and what comes back by
    /// `to_client`, from now on (bytes already on their way keep their delay).
    pub fn set_latency(&self, to_target: Duration, to_client: Duration) {
        self.fault.send_modify(|f| {
            f.to_target = to_target;
            f.to_client = to_client;
        });
    }

    pub fn cut(&self) {
        self.fault.send_modify(|f| f.mode = Mode::Cut);
    }

    /// The blackhole: accept, never answer.
    pub fn freeze(&self) {
        self.fault.send_modify(|f| f.mode = Mode::Frozen);
    }

    pub fn restore(&self) {
        self.fault.send_modify(|f| f.mode = Mode::Up);
    }
}

/// Keeps a connection open without answering until the proxy is no longer frozen.
async fn hold(client: TcpStream, mut fault: watch::Receiver<Fault>) {
    let _ = fault.wait_for(|f| f.mode != Mode::Frozen).await;
    drop(client);
}

async fn relay(mut client: TcpStream, target: SocketAddr, mut fault: watch::Receiver<Fault>) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    // Forward each chunk as it is due: the proxy must add no delay of its own (Nagle's).
    for stream in [&client, &server] {
        stream.set_nodelay(true).ok();
    }
    let stopped = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let up = pipe(client_read, server_write, fault.clone(), |f| f.to_target);
        let down = pipe(server_read, client_write, fault.clone(), |f| f.to_client);
        tokio::select! {
            _ = futures::future::join(up, down) => None,
            changed = fault.wait_for(|f| f.mode != Mode::Up) => changed.ok().map(|f| f.mode),
        }
    };
    if stopped == Some(Mode::Frozen) {
        drop(server);
        hold(client, fault).await;
    }
}

/// Copies `from` to `to`, each chunk delayed by `delay(fault)` as it was read (so the
/// link's latency, not its bandwidth, changes: chunks in flight overlap), then closes
/// `to`'s writing side when `from` ends.
async fn pipe(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    fault: watch::Receiver<Fault>,
    delay: fn(&Fault) -> Duration,
) {
    let (chunks, mut due) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let read = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buf).await {
            let at = Instant::now() + delay(&fault.borrow());
            if chunks.send((at, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    };
    let write = async move {
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        to.shutdown().await.ok();
    };
    futures::future::join(read, write).await;
}
