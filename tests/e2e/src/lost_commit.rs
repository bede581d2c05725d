//! A relay between a service and MySQL that can lose the answer to a `COMMIT`: armed, it
//! passes the next `COMMIT` on to the server, reads the server's answer (the transaction
//! is durable by then) and closes the client's connection instead of relaying it. The
//! client sees its commit fail although the database kept it: the one failure after
//! which an error answer does not mean "nothing happened".
//!
//! It reads the client's side as MySQL packets (3-byte length, sequence number, payload;
//! a `COMMIT` is a `COM_QUERY` whose text ends with `COMMIT`); the server's side is copied
//! as it comes. Plain connections only (no TLS, no compression), as the services use.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const COM_QUERY: u8 = 0x03;

#[derive(Default)]
struct State {
    armed: AtomicBool,
    lost: AtomicU64,
}

pub struct LostCommit {
    port: u16,
    target: String,
    state: Arc<State>,
}

impl LostCommit {
    /// Relays 127.0.0.1:<free port> to the server of `mysql_url`
    /// (`mysql://user@host:port`), passing everything on until armed.
    pub async fn start(mysql_url: &str) -> Self {
        let (server, listener, port) = crate::fault_proxy::relay_listener(server_of(mysql_url)).await;
        let state = Arc::new(State::default());
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, server, shared.clone()));
            }
        });
        Self {
            port,
            target: mysql_url.to_string(),
            state,
        }
    }

    /// The same MySQL URL, through this relay (and kept on it: a client told the server
    /// is local would switch to its Unix socket, past the relay).
    pub fn url(&self) -> String {
        let url = self
            .target
            .replacen(server_of(&self.target), &format!("127.0.0.1:{}", self.port), 1);
        let join = if url.contains('?') { '&' } else { '?' };
        format!("{url}{join}prefer_socket=false")
    }

    /// The answer to the next `COMMIT` (on any connection) is lost.
    pub fn arm(&self) {
        self.state.armed.store(true, Ordering::SeqCst);
    }

    /// How many answers to a `COMMIT` were lost so far.
    pub fn lost(&self) -> u64 {
        self.state.lost.load(Ordering::SeqCst)
    }
}

/// The `host:port` of a MySQL URL (`mysql://[user[:password]@]host:port[/db]`).
fn server_of(url: &str) -> &str {
    let rest = url.trim_start_matches("mysql://");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, at)| at);
    rest.split(['/', '?']).next().unwrap_or_default()
}

async fn relay(client: TcpStream, server: SocketAddr, state: Arc<State>) {
    let Ok(server) = TcpStream::connect(server).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Set once a COMMIT whose answer is to be lost went to the server.
    let swallow = Arc::new(AtomicBool::new(false));
    tokio::select! {
        _ = client_to_server(client_read, server_write, state.clone(), swallow.clone()) => {}
        _ = server_to_client(server_read, client_write, state, swallow) => {}
    }
}

/// Passes the client's packets on, one by one, watching for an armed `COMMIT`.
async fn client_to_server(
    mut client: OwnedReadHalf,
    mut server: OwnedWriteHalf,
    state: Arc<State>,
    swallow: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let mut header = [0u8; 4];
    loop {
        client.read_exact(&mut header).await?;
        let length = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        let mut payload = vec![0u8; length];
        client.read_exact(&mut payload).await?;
        let commit = payload.first() == Some(&COM_QUERY) && payload.to_ascii_uppercase().ends_with(b"COMMIT");
        if commit
            && state
                .armed
                .compare_exchange(true, false, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            swallow.store(true, Ordering::SeqCst);
        }
        server.write_all(&header).await?;
        server.write_all(&payload).await?;
    }
}

/// Copies the server's answers to the client; the answer to a swallowed `COMMIT` is
/// dropped and both connections closed.
async fn server_to_client(
    mut server: OwnedReadHalf,
    mut client: OwnedWriteHalf,
    state: Arc<State>,
    swallow: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = server.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        if swallow.load(Ordering::SeqCst) {
            state.lost.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        client.write_all(&buffer[..read]).await?;
    }
}
