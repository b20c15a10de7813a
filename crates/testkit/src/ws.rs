//! A WebSocket client for the HTTP listener's `/ws`: JSON frames or IRC
//! lines as messages, raw frames for hostile input, and how the server
//! closed.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, client_async_with_config};

use crate::WAIT;

/// A WebSocket connection to `/ws`.
pub struct Ws {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// The `ws://` address of a listener's `/ws`.
pub fn ws_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/ws")
}

impl Ws {
    /// Connects (JSON protocol, no `Origin`, as a non-browser client).
    pub async fn connect(addr: SocketAddr) -> Ws {
        Ws::connect_with(addr, None, None).await.unwrap()
    }

    /// Connects with a subprotocol and an `Origin` header, if given; the
    /// error is the server's refusal (e.g. an HTTP 403).
    pub async fn connect_with(
        addr: SocketAddr,
        subprotocol: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Ws, Error> {
        let origin = origin.map(|o| ("origin", o));
        Ws::connect_with_headers(addr, subprotocol, origin.as_slice()).await
    }

    /// Connects with a subprotocol, if given, and extra request headers
    /// (as a reverse proxy adds `X-Forwarded-For`); the error is the
    /// server's refusal.
    pub async fn connect_with_headers(
        addr: SocketAddr,
        subprotocol: Option<&str>,
        headers: &[(&'static str, &str)],
    ) -> Result<Ws, Error> {
        Ws::open(addr, &ws_url(addr), subprotocol, headers).await
    }

    /// Connects to the listener's root, `/`, where web IRC clients (and
    /// irctest) look for the WebSocket, with a subprotocol if given.
    pub async fn connect_at_root(addr: SocketAddr, subprotocol: Option<&str>) -> Result<Ws, Error> {
        Ws::open(addr, &format!("ws://{addr}/"), subprotocol, &[]).await
    }

    /// Opens `url` on `addr` (see [`Ws::connect_with_headers`]).
    async fn open(
        addr: SocketAddr,
        url: &str,
        subprotocol: Option<&str>,
        headers: &[(&'static str, &str)],
    ) -> Result<Ws, Error> {
        let mut request = url.into_client_request().unwrap();
        if let Some(protocol) = subprotocol {
            request.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_str(protocol).unwrap(),
            );
        }
        for (name, value) in headers {
            request
                .headers_mut()
                .append(*name, HeaderValue::from_str(value).unwrap());
        }
        let stream = TcpStream::connect(addr).await.unwrap();
        // The client takes messages of any size: what the server sends is
        // under test, not the client's limits.
        let config = WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(None);
        let (socket, response) = tokio::time::timeout(
            WAIT,
            client_async_with_config(request, MaybeTlsStream::Plain(stream), Some(config)),
        )
        .await
        .expect("the WebSocket handshake took too long")?;
        if let Some(protocol) = subprotocol {
            let chosen = response.headers().get("sec-websocket-protocol");
            assert_eq!(
                chosen.and_then(|v| v.to_str().ok()),
                Some(protocol),
                "the server did not choose {protocol}"
            );
        }
        Ok(Ws { socket })
    }

    /// Connects and logs in over the JSON protocol; returns after `welcome`.
    pub async fn login(addr: SocketAddr, nick: &str) -> Ws {
        let mut ws = Ws::connect(addr).await;
        ws.send_json(serde_json::json!({"type": "login", "nickname": nick, "protocol": 2}))
            .await;
        ws.recv_type("welcome").await;
        ws
    }

    /// Sends one text message.
    pub async fn send_text(&mut self, text: &str) {
        self.send(Message::text(text)).await;
    }

    /// Sends one JSON frame as a text message.
    pub async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    /// Sends any message (binary ones included).
    pub async fn send(&mut self, message: Message) {
        tokio::time::timeout(WAIT, self.socket.send(message))
            .await
            .expect("sending took too long")
            .unwrap();
    }

    /// Sends a message; the error says why the connection would not take
    /// it (the server may close while a large one is on its way).
    pub async fn try_send(&mut self, message: Message) -> Result<(), Error> {
        tokio::time::timeout(WAIT, self.socket.send(message))
            .await
            .expect("sending took too long")
    }

    /// Sends a text frame holding these bytes as they are, UTF-8 or not.
    pub async fn send_raw_text(&mut self, bytes: &[u8]) {
        let frame = Frame::message(bytes.to_vec(), OpCode::Data(Data::Text), true);
        self.send(Message::Frame(frame)).await;
    }

    /// The next text or binary message (answering pings on the way);
    /// `None` once the server has closed.
    pub async fn recv_message(&mut self) -> Option<Message> {
        loop {
            let next = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("no message in time");
            match next {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(message)) => return Some(message),
            }
        }
    }

    /// The next JSON frame (one text message).
    pub async fn recv(&mut self) -> Value {
        let message = self
            .recv_message()
            .await
            .expect("the server closed the WebSocket");
        let Message::Text(text) = message else {
            panic!("expected a text message, got {message:?}");
        };
        assert!(!text.contains('\n'), "one frame per message: {text:?}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
    }

    /// Skips frames up to the next one of type `ty`.
    pub async fn recv_type(&mut self, ty: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["type"] == ty {
                return frame;
            }
        }
    }

    /// The next IRC line (one text or binary message, without a line end).
    pub async fn recv_line(&mut self) -> String {
        match self.recv_message().await {
            Some(Message::Text(text)) => text.to_string(),
            Some(Message::Binary(data)) => String::from_utf8(data.to_vec()).unwrap(),
            other => panic!("expected an IRC line, got {other:?}"),
        }
    }

    /// Reads (and answers pings) until the server closes; returns its
    /// close frame, if it sent one.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            let next = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("the server did not close in time");
            match next {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return None,
            }
        }
    }

    /// The next message whatever its kind, pings and closes included.
    pub async fn next_raw(&mut self) -> Option<Message> {
        tokio::time::timeout(WAIT, self.socket.next())
            .await
            .expect("no message in time")
            .and_then(Result::ok)
    }
}
