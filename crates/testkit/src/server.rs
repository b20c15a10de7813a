//! The server library running inside the test's own process: the quickest
//! way to a real server on real sockets, with the configuration in the
//! test's hands.

use std::net::SocketAddr;

use chatroom_server::{Config, Listener, ServerError, run};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::WAIT;

/// A server running in this process, with a JSON, an IRC and an HTTP
/// listener on 127.0.0.1:0. Stop it with [`TestServer::stop`] to check that it shuts
/// down cleanly; dropped, it just stops with the test's runtime.
pub struct TestServer {
    /// The JSON listener's address.
    pub addr: SocketAddr,
    /// The IRC listener's address.
    pub irc_addr: SocketAddr,
    /// The HTTP listener's address (the web client, WebSocket at `/ws`).
    pub http_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

/// The configuration test servers run with: the defaults, but no limits on
/// what one address may do (tests open many connections from 127.0.0.1,
/// send fast, and make rooms and accounts freely). Tests of those limits
/// set them explicitly.
pub fn test_config() -> Config {
    Config {
        max_connections_per_ip: 0,
        messages_per_second: 0.0,
        requests_per_second: 0.0,
        registrations_per_hour: 0,
        rooms_per_hour: 0,
        ..Config::default()
    }
}

impl TestServer {
    /// A server with [`test_config`].
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }

    /// A server with the given configuration (usually [`test_config`] with
    /// the settings under test changed).
    pub async fn start_with(config: Config) -> Self {
        let json = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let irc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = json.local_addr().unwrap();
        let irc_addr = irc.local_addr().unwrap();
        let http_addr = http.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let listeners = vec![
            Listener::json(json),
            Listener::irc(irc),
            Listener::http(http),
        ];
        let task = tokio::spawn(run(listeners, config, async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            irc_addr,
            http_addr,
            stop: Some(stop),
            task,
        }
    }

    /// Triggers graceful shutdown and waits for `run` to return, which it
    /// must do in time and without an error.
    pub async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("server did not shut down in time")
            .unwrap()
            .unwrap();
    }
}
