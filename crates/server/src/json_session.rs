//! The JSON protocol's side of a connection: requests in, hub calls, frames out.
//!
//! Compatible with the source tutorial's client: `login` replies with a
//! `welcome` carrying `"status":"ok"` and a non-zero `id`; `broadcast` is
//! relayed to everyone else and answered only when it carries a `ref`; the
//! client's `sender_id` is ignored in favour of the session's own identity.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chatroom_proto::ErrorCode;
use chatroom_proto::json::{
    Ack, Envelope, ErrorFrame, FrameError, JsonFramer, Notice, Pong, Ref, Request, RequestError,
    ServerFrame, Welcome, encode_frame, parse_request,
};
use chatroom_proto::nick::SYSTEM_NICK;
use tracing::{info, warn};

use crate::conn::{Flow, Session};
use crate::hub::{Hub, LoginError, Member};
use crate::outbox::{CloseReason, Outbox};

/// The server's name and version, as announced in `welcome`.
const SERVER_NAME: &str = concat!("chatroom ", env!("CARGO_PKG_VERSION"));

/// One unit of decoded client input.
pub enum Input {
    /// A well-formed request.
    Request(Envelope),
    /// A JSON object that is not a valid request.
    Invalid(RequestError),
    /// Bytes that were not a JSON object at all (skipped).
    Malformed,
    /// An object over the size cap.
    TooLarge(usize),
}

/// The state of one JSON connection.
pub struct JsonSession {
    hub: Arc<Hub>,
    outbox: Arc<Outbox>,
    peer: SocketAddr,
    framer: JsonFramer,
    member: Option<Arc<Member>>,
}

impl JsonSession {
    /// A session for a fresh connection from `peer`.
    pub fn new(hub: Arc<Hub>, outbox: Arc<Outbox>, peer: SocketAddr, max_frame: usize) -> Self {
        JsonSession {
            hub,
            outbox,
            peer,
            framer: JsonFramer::new(max_frame),
            member: None,
        }
    }

    fn send(&self, frame: &ServerFrame) {
        self.outbox.push(encode_frame(frame));
    }

    fn send_error(&self, code: ErrorCode, message: impl Into<String>, reference: Option<Ref>) {
        let message = message.into();
        warn!(peer = %self.peer, %code, %message, "refused client input");
        self.send(&ServerFrame::Error(ErrorFrame {
            code,
            message,
            reference,
        }));
    }

    fn login(&mut self, nickname: String, reference: Option<Ref>) {
        if let Some(member) = &self.member {
            let text = format!("already logged in as {}", member.nick);
            return self.send_error(ErrorCode::AlreadyLoggedIn, text, reference);
        }
        let welcome_ref = reference.clone();
        let result = self
            .hub
            .login(&nickname, self.peer, self.outbox.clone(), |id| {
                encode_frame(&ServerFrame::Welcome(Welcome {
                    status: "ok".to_owned(),
                    id,
                    nickname: nickname.clone(),
                    protocol: chatroom_proto::PROTOCOL_VERSION,
                    server: SERVER_NAME.to_owned(),
                    reference: welcome_ref,
                }))
            });
        match result {
            Ok(member) => {
                info!(peer = %self.peer, id = member.id, nick = %member.nick, "logged in");
                self.member = Some(member);
            }
            Err(e @ LoginError::Taken(_)) => {
                self.send_error(ErrorCode::NicknameTaken, e.to_string(), reference)
            }
            Err(e @ LoginError::Invalid(_)) => {
                self.send_error(ErrorCode::InvalidNickname, e.to_string(), reference)
            }
        }
    }

    fn request(&mut self, envelope: Envelope) -> Flow {
        let Envelope { reference, request } = envelope;
        match request {
            Request::Login { nickname } => self.login(nickname, reference),
            Request::Ping => self.send(&ServerFrame::Pong(Pong { reference })),
            Request::Logout => {
                self.send(&ServerFrame::Bye(notice("goodbye", reference)));
                return Flow::Close(CloseReason::Logout);
            }
            Request::Broadcast { message } => {
                let Some(member) = &self.member else {
                    return self.not_logged_in(reference);
                };
                let posted = self.hub.broadcast(member, &message);
                if reference.is_some() {
                    self.send(&ServerFrame::Ack(Ack {
                        reference,
                        msg_id: posted.msg_id,
                        ts: posted.ts,
                    }));
                }
            }
        }
        Flow::Continue
    }

    fn not_logged_in(&self, reference: Option<Ref>) -> Flow {
        self.send_error(
            ErrorCode::NotLoggedIn,
            "log in first: {\"type\":\"login\",\"nickname\":\"...\"}",
            reference,
        );
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
                Err(FrameError::TooLarge(cap)) => Input::TooLarge(cap),
            })
        });
    }

    async fn handle(&mut self, input: Input) -> Flow {
        match input {
            Input::Request(envelope) => self.request(envelope),
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
            Input::TooLarge(cap) => {
                warn!(peer = %self.peer, cap, "frame too large, closing");
                Flow::Close(CloseReason::FrameTooLarge)
            }
        }
    }

    fn finish(&mut self, reason: CloseReason) -> Option<Bytes> {
        if let Some(member) = self.member.take() {
            self.hub.leave(&member, reason);
            info!(peer = %self.peer, id = member.id, nick = %member.nick, reason = reason.as_str(), "left");
        }
        let frame = match reason {
            CloseReason::Shutdown => ServerFrame::Bye(notice("the server is shutting down", None)),
            CloseReason::SlowConsumer => {
                warn!(peer = %self.peer, "slow consumer, disconnecting");
                ServerFrame::Error(ErrorFrame {
                    code: ErrorCode::SlowConsumer,
                    message: "you fell too far behind reading; disconnecting".to_owned(),
                    reference: None,
                })
            }
            CloseReason::FrameTooLarge => ServerFrame::Error(ErrorFrame {
                code: ErrorCode::FrameTooLarge,
                message: format!(
                    "a frame passed the {} byte limit; closing the connection",
                    self.framer.max_frame()
                ),
                reference: None,
            }),
            CloseReason::Logout | CloseReason::Closed | CloseReason::Reset => return None,
        };
        Some(encode_frame(&frame))
    }
}
