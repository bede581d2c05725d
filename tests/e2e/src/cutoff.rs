//! A TCP relay that can fail: stands between a service and LocalStack so a test can make
//! AWS unreachable for that service alone, in two ways:
//! - [`Cutoff::cut`]: existing connections are closed, new ones closed at once (a broker
//!   that is down: calls fail fast);
//! - [`Cutoff::freeze`]: connections are accepted and held, nothing is relayed (a broker
//!   that hangs: calls wait until the caller's timeout).
//!
//! [`Cutoff::restore`] relays again; connections held while frozen are then closed (as a
//! broker's would be after a long stall) and the caller's retry opens new ones.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Up,
    Cut,
    Frozen,
}

pub struct Cutoff {
    port: u16,
    state: watch::Sender<State>,
}

impl Cutoff {
    /// Relays 127.0.0.1:<free port> to `target` (host:port), starting up.
    pub async fn start(target: &str) -> Self {
        let target: SocketAddr = tokio::net::lookup_host(target)
            .await
            .unwrap()
            .next()
            .expect("target address");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (state, watch_state) = watch::channel(State::Up);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                match *watch_state.borrow() {
                    State::Cut => continue, // dropped: the connection is closed at once
                    State::Frozen => {
                        tokio::spawn(hold(client, watch_state.clone()));
                    }
                    State::Up => {
                        tokio::spawn(relay(client, target, watch_state.clone()));
                    }
                }
            }
        });
        Self { port, state }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn cut(&self) {
        self.state.send_replace(State::Cut);
    }

    pub fn freeze(&self) {
        self.state.send_replace(State::Frozen);
    }

    pub fn restore(&self) {
        self.state.send_replace(State::Up);
    }
}

/// Keeps a connection open without answering until the relay is no longer frozen.
async fn hold(client: TcpStream, mut state: watch::Receiver<State>) {
    let _ = state.wait_for(|s| *s != State::Frozen).await;
    drop(client);
}

async fn relay(mut client: TcpStream, target: SocketAddr, mut state: watch::Receiver<State>) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    let stopped = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => None,
        changed = state.wait_for(|s| *s != State::Up) => changed.ok().map(|s| *s),
    };
    if stopped == Some(State::Frozen) {
        drop(server);
        hold(client, state).await;
    }
}
