//! A JSON connection's life: decoding its bytes, dispatching each request,
//! keepalive, rate-limit costs, and its last words.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chatroom_proto::ErrorCode;
use chatroom_proto::json::{
    Envelope, ErrorFrame, FrameError, JsonFramer, Notice, Pong, Ref, Request, ServerFrame,
    encode_frame, parse_request,
};
use chatroom_proto::nick::SYSTEM_NICK;
use tracing::{debug, info, warn};

use super::{Input, JsonSession, JsonSettings, errors};
use crate::accounts::AccountError;
use crate::conn::{Cost, Flow, Session};
use crate::hub::Hub;
use crate::outbox::{CloseReason, Outbox};

impl JsonSession {
    /// A session for a fresh connection from `peer`.
    pub fn new(
        hub: Arc<Hub>,
        outbox: Arc<Outbox>,
        peer: SocketAddr,
        settings: Arc<JsonSettings>,
    ) -> Self {
        JsonSession {
            hub,
            outbox,
            peer,
            framer: JsonFramer::new(settings.max_frame),
            client: None,
            settings,
            protocol: 1,
            awaiting_receipts: false,
            wrong_passwords: 0,
            markers: Default::default(),
            certfp: None,
        }
    }

    /// This session, for a connection that presented the TLS client
    /// certificate `certfp` (if any).
    pub fn with_certfp(mut self, certfp: Option<crate::certfp::Fingerprint>) -> Self {
        self.certfp = certfp;
        self
    }

    /// Queues a frame for this client.
    pub(super) fn send(&self, frame: &ServerFrame) {
        self.outbox.push(encode_frame(frame));
    }

    /// Queues an error frame (and logs the refusal).
    pub(super) fn send_error(
        &self,
        code: ErrorCode,
        message: impl Into<String>,
        reference: Option<Ref>,
    ) {
        let message = message.into();
        warn!(peer = %self.peer, %code, %message, "refused client input");
        self.send(&ServerFrame::Error(ErrorFrame {
            code,
            message,
            reference,
        }));
    }

    /// Queues the error frame for an account refusal.
    pub(super) fn account_error(&self, error: &AccountError, reference: Option<Ref>) {
        let code = errors::account_error(error);
        self.send_error(code, error.to_string(), reference);
    }

    /// Acts on one well-formed request.
    pub(super) async fn request(&mut self, envelope: Envelope) -> Flow {
        let Envelope { reference, request } = envelope;
        match request {
            Request::Login {
                nickname,
                password,
                protocol,
            } => return self.login(nickname, password, protocol, reference).await,
            Request::Register { nickname, password } => {
                self.register(nickname, password, reference).await
            }
            Request::Ping => self.send(&ServerFrame::Pong(Pong { reference })),
            Request::Pong => {}
            Request::Logout => {
                // Acknowledgements of messages sent before come first.
                if self.awaiting_receipts
                    && let Err(e) = Box::pin(self.hub.store().flush()).await
                {
                    warn!(peer = %self.peer, error = %e, "could not wait for acknowledgements");
                }
                self.send(&ServerFrame::Bye(notice("goodbye", reference)));
                return Flow::Close(CloseReason::Logout);
            }
            request => {
                let Some(client) = self.client.clone() else {
                    self.send_error(
                        ErrorCode::NotLoggedIn,
                        "log in first: {\"type\":\"login\",\"nickname\":\"...\"}",
                        reference,
                    );
                    return Flow::Continue;
                };
                if let Err(e) = self
                    .member_request(&client, request, reference.clone())
                    .await
                {
                    self.send_error(errors::hub_error(&e), e.to_string(), reference);
                }
            }
        }
        Flow::Continue
    }
}

/// A frame from System with `text`.
fn notice(text: &str, reference: Option<Ref>) -> Notice {
    Notice {
        sender_id: 0,
        sender_nickname: SYSTEM_NICK.to_owned(),
        message: text.to_owned(),
        reference,
    }
}

/// An error frame without a `ref`, as last words.
fn closing_error(code: ErrorCode, message: &str) -> ServerFrame {
    ServerFrame::Error(ErrorFrame {
        code,
        message: message.to_owned(),
        reference: None,
    })
}

impl Session for JsonSession {
    type Input = Input;

    fn decode(&mut self, bytes: &[u8], inputs: &mut Vec<Input>) {
        self.framer.feed(bytes, |item| {
            inputs.push(match item {
                Ok(frame) => match parse_request(frame) {
                    Ok(envelope) => Input::Request(envelope),
                    Err(e) => Input::Invalid(e),
                },
                Err(FrameError::Malformed) => Input::Malformed,
                Err(FrameError::TooLarge(_)) => Input::TooLarge,
            })
        });
    }

    async fn handle(&mut self, input: Input) -> Flow {
        match input {
            Input::Request(envelope) => self.request(envelope).await,
            Input::Invalid(e) => {
                self.send_error(e.code, e.message, e.reference);
                Flow::Continue
            }
            Input::Malformed => {
                self.send_error(
                    ErrorCode::MalformedJson,
                    "expected a JSON object; skipped to the next line or '{'",
                    None,
                );
                Flow::Continue
            }
            Input::TooLarge => {
                warn!(peer = %self.peer, cap = self.framer.max_frame(), "frame too large, closing");
                Flow::Close(CloseReason::FrameTooLarge)
            }
        }
    }

    fn logged_in(&self) -> bool {
        self.client.is_some()
    }

    fn ping(&mut self, token: u64) -> bool {
        if self.protocol < 2 {
            return false;
        }
        self.send(&ServerFrame::Ping(Pong {
            reference: Some(Ref::Number(token.into())),
        }));
        true
    }

    fn cost(&self, input: &Input) -> Cost {
        let request = match input {
            Input::Request(envelope) => &envelope.request,
            // An error answer costs the server a little too.
            Input::Invalid(_) | Input::Malformed => return Cost::Request(1),
            Input::TooLarge => return Cost::Free,
        };
        Cost::Request(match request {
            Request::Broadcast { .. } | Request::Direct { .. } => return Cost::Chat,
            Request::Pong | Request::Logout => return Cost::Free,
            Request::Ping | Request::Topic { topic: None, .. } => 1,
            Request::Kick { .. }
            | Request::Invite { .. }
            | Request::Mode { .. }
            | Request::Kill { .. }
            | Request::Ban { .. }
            | Request::Unban { .. } => 2,
            Request::Rooms | Request::Who { .. } | Request::Part { .. } => 3,
            Request::Join { .. }
            | Request::Login { .. }
            | Request::Register { .. }
            | Request::Unregister { .. }
            | Request::CertAdd { .. }
            | Request::CertDel { .. }
            | Request::Oper { .. } => 5,
            // These reach everyone sharing a room with the user.
            Request::Nick { .. } | Request::Topic { topic: Some(_), .. } => 10,
            Request::Whois { .. }
            | Request::Whowas { .. }
            | Request::MarkRead { .. }
            | Request::ReadMarkers
            | Request::CertList => 2,
            Request::Conversations { .. } => 3,
            Request::Away { .. } => 5,
            // Reading history costs by the page; a full-text search more.
            Request::History { limit, .. } | Request::DirectHistory { limit, .. } => 1 + limit / 25,
            Request::Search { limit, .. } => 5 + limit / 5,
        })
    }

    fn rate_limited(&mut self, input: Input) {
        let (reference, what) = match input {
            Input::Request(Envelope { reference, request }) => (reference, request.kind()),
            _ => (None, "request"),
        };
        let text = if matches!(what, "broadcast" | "direct") {
            "message dropped: you are sending too fast; slow down".to_owned()
        } else {
            format!("{what} dropped: you are sending requests too fast; slow down")
        };
        self.send_error(ErrorCode::RateLimited, text, reference);
    }

    fn busy(&mut self, input: Input) {
        let reference = match input {
            Input::Request(Envelope { reference, .. }) => reference,
            _ => None,
        };
        self.send_error(
            ErrorCode::ServerBusy,
            "message dropped: the server is too busy to store it; try again in a moment",
            reference,
        );
    }

    fn finish(&mut self, reason: CloseReason) -> Option<Bytes> {
        if let Some(client) = self.client.take() {
            self.hub.leave(&client, reason, None);
            info!(peer = %self.peer, id = client.id, reason = reason.as_str(), "left");
        } else {
            debug!(peer = %self.peer, reason = reason.as_str(), "connection closed before login");
        }
        let frame = match reason {
            CloseReason::Shutdown => ServerFrame::Bye(notice("the server is shutting down", None)),
            CloseReason::Killed => ServerFrame::Bye(notice("disconnected by an operator", None)),
            CloseReason::SlowConsumer => {
                warn!(peer = %self.peer, "slow consumer, disconnecting");
                closing_error(
                    ErrorCode::SlowConsumer,
                    "you fell too far behind reading; disconnecting",
                )
            }
            CloseReason::FrameTooLarge => closing_error(
                ErrorCode::FrameTooLarge,
                &format!(
                    "a frame passed the {} byte limit; closing the connection",
                    self.framer.max_frame()
                ),
            ),
            CloseReason::LoginTimeout => closing_error(
                ErrorCode::LoginTimeout,
                "no login in time; closing the connection",
            ),
            CloseReason::PingTimeout => closing_error(
                ErrorCode::PingTimeout,
                "no answer to ping; closing the connection",
            ),
            CloseReason::Flood => {
                warn!(peer = %self.peer, "flooding, disconnecting");
                closing_error(
                    ErrorCode::Flood,
                    "too many messages too fast; disconnecting",
                )
            }
            CloseReason::Banned => {
                closing_error(ErrorCode::Banned, "you are banned from this server")
            }
            CloseReason::TooManyAttempts => closing_error(
                ErrorCode::TooManyAttempts,
                "too many wrong passwords; closing the connection",
            ),
            CloseReason::Logout | CloseReason::Closed | CloseReason::Reset => return None,
        };
        Some(encode_frame(&frame))
    }
}
