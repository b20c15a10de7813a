//! The JSON protocol's side of a connection: requests in, hub calls, frames out.
//!
//! Compatible with the source tutorial's client: `login` replies with a
//! `welcome` carrying `"status":"ok"` and a non-zero `id`; `broadcast` is
//! relayed to the room and answered only when it carries a `ref`; the
//! client's `sender_id` is ignored in favour of the session's own identity.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chatroom_proto::ErrorCode;
use chatroom_proto::json::{
    Ack, ChatMessage, Envelope, ErrorFrame, FrameError, HistoryEnd, JsonFramer, MemberInfo,
    MemberList, Notice, Parted, Pong, Ref, Renamed, Request, RequestError, RoomList, ServerFrame,
    TopicInfo, Welcome, encode_frame, parse_request,
};
use chatroom_proto::nick::SYSTEM_NICK;
use chatroom_proto::room::LOBBY;
use tracing::{info, warn};

use crate::conn::{Flow, Session};
use crate::event::Format;
use crate::hub::{Arrival, Hub, HubError, Member, Posted, Style, Topic};
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
    TooLarge,
}

/// The state of one JSON connection.
pub struct JsonSession {
    hub: Arc<Hub>,
    outbox: Arc<Outbox>,
    peer: SocketAddr,
    framer: JsonFramer,
    member: Option<Arc<Member>>,
    history_replay: u32,
}

impl JsonSession {
    /// A session for a fresh connection from `peer`.
    pub fn new(
        hub: Arc<Hub>,
        outbox: Arc<Outbox>,
        peer: SocketAddr,
        max_frame: usize,
        history_replay: u32,
    ) -> Self {
        JsonSession {
            hub,
            outbox,
            peer,
            framer: JsonFramer::new(max_frame),
            member: None,
            history_replay,
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
            let text = match self.hub.identity(member) {
                Some(who) => format!("already logged in as {}", who.nick),
                None => "already logged in".to_owned(),
            };
            return self.send_error(ErrorCode::AlreadyLoggedIn, text, reference);
        }
        let welcome_ref = reference.clone();
        let arrival = Arrival {
            nick: nickname.clone(),
            user: nickname.clone(),
            realname: nickname.clone(),
            peer: self.peer,
            format: Format::Json,
            echo: false,
        };
        let result = self.hub.login(arrival, self.outbox.clone(), |member, _| {
            encode_frame(&ServerFrame::Welcome(Welcome {
                status: "ok".to_owned(),
                id: member.id,
                nickname: nickname.clone(),
                protocol: chatroom_proto::PROTOCOL_VERSION,
                server: SERVER_NAME.to_owned(),
                rooms: vec![LOBBY.to_owned()],
                reference: welcome_ref,
            }))
        });
        match result {
            Ok(member) => {
                info!(peer = %self.peer, id = member.id, nick = %nickname, "logged in");
                self.member = Some(member);
            }
            Err(e) => self.send_error(e.code(), e.to_string(), reference),
        }
    }

    async fn request(&mut self, envelope: Envelope) -> Flow {
        let Envelope { reference, request } = envelope;
        match request {
            Request::Login { nickname } => self.login(nickname, reference),
            Request::Ping => self.send(&ServerFrame::Pong(Pong { reference })),
            Request::Logout => {
                self.send(&ServerFrame::Bye(notice("goodbye", reference)));
                return Flow::Close(CloseReason::Logout);
            }
            request => {
                let Some(member) = self.member.clone() else {
                    self.send_error(
                        ErrorCode::NotLoggedIn,
                        "log in first: {\"type\":\"login\",\"nickname\":\"...\"}",
                        reference,
                    );
                    return Flow::Continue;
                };
                if let Err(e) = self
                    .member_request(&member, request, reference.clone())
                    .await
                {
                    self.send_error(e.code(), e.to_string(), reference);
                }
            }
        }
        Flow::Continue
    }

    /// The requests that need a logged-in user.
    async fn member_request(
        &mut self,
        member: &Member,
        request: Request,
        reference: Option<Ref>,
    ) -> Result<(), HubError> {
        let hub = self.hub.clone();
        match request {
            Request::Broadcast {
                room,
                message,
                action,
            } => {
                let style = Style {
                    action,
                    notice: false,
                };
                let posted = hub.say(member, room.as_deref(), &message, style)?;
                self.ack(posted, reference);
            }
            Request::Direct {
                to,
                message,
                action,
            } => {
                let style = Style {
                    action,
                    notice: false,
                };
                let posted = hub.direct(member, &to, &message, style)?;
                self.ack(posted, reference);
            }
            Request::Join { room } => {
                let joined_ref = reference.clone();
                let joined = hub.join(member, &room, |joined| {
                    encode_frame(&ServerFrame::Joined(chatroom_proto::json::Joined {
                        room: joined.name.clone(),
                        topic: joined.topic.text.clone(),
                        members: joined.members.clone(),
                        reference: joined_ref,
                    }))
                })?;
                info!(peer = %self.peer, id = member.id, room = %joined.name, "joined");
                self.replay(
                    joined.key,
                    joined.name,
                    Some(joined.horizon),
                    self.history_replay,
                    reference,
                )
                .await;
            }
            Request::Part { room } => {
                let room = hub.part(member, &room, None)?;
                self.send(&ServerFrame::Parted(Parted { room, reference }));
            }
            Request::Rooms => {
                let rooms = hub.rooms();
                self.send(&ServerFrame::RoomList(RoomList { rooms, reference }));
            }
            Request::Who { room } => {
                let (room, members) = hub.who(&room)?;
                let members = members
                    .into_iter()
                    .map(|p| MemberInfo {
                        id: p.id,
                        nickname: p.nick,
                    })
                    .collect();
                self.send(&ServerFrame::MemberList(MemberList {
                    room,
                    members,
                    reference,
                }));
            }
            Request::Topic { room, topic: None } => {
                let topic = hub.topic(&room)?;
                self.send_topic(topic, reference);
            }
            Request::Topic {
                room,
                topic: Some(text),
            } => {
                let topic = hub.set_topic(member, &room, &text)?;
                self.send_topic(topic, reference);
            }
            Request::Nick { nickname } => {
                let old = hub.rename(member, &nickname)?;
                info!(peer = %self.peer, id = member.id, %old, new = %nickname, "renamed");
                self.send(&ServerFrame::Renamed(Renamed {
                    old_nickname: old,
                    nickname,
                    reference,
                }));
            }
            Request::History {
                room,
                before,
                limit,
            } => {
                let (key, name) = hub.membership(member, &room)?;
                self.replay(key, name, before, limit, reference).await;
            }
            Request::Login { .. } | Request::Logout | Request::Ping => {}
        }
        Ok(())
    }

    fn ack(&self, posted: Posted, reference: Option<Ref>) {
        if reference.is_some() {
            self.send(&ServerFrame::Ack(Ack {
                reference,
                msg_id: posted.msg_id,
                ts: posted.ts,
            }));
        }
    }

    fn send_topic(&self, topic: Topic, reference: Option<Ref>) {
        self.send(&ServerFrame::Topic(TopicInfo {
            room: topic.room,
            topic: topic.text,
            set_by: topic.set_by,
            ts: topic.set_at,
            reference,
        }));
    }

    /// Sends up to `limit` stored messages of a room (ids below `before`),
    /// oldest first and marked as history, then `history_end`.
    async fn replay(
        &self,
        key: String,
        name: String,
        before: Option<u64>,
        limit: u32,
        reference: Option<Ref>,
    ) {
        let page = match self.hub.store().history(key, before, limit).await {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(error = %e, "history read failed");
                return self.send_error(
                    ErrorCode::InternalError,
                    "history is unavailable right now",
                    reference,
                );
            }
        };
        let count = u32::try_from(page.messages.len()).unwrap_or(u32::MAX);
        for m in page.messages {
            self.send(&ServerFrame::Message(ChatMessage {
                msg_id: m.id,
                ts: m.ts,
                room: name.clone(),
                sender_id: m.sender_id,
                sender_nickname: m.sender_nick,
                message: m.text,
                action: m.action,
                history: true,
            }));
        }
        self.send(&ServerFrame::HistoryEnd(HistoryEnd {
            room: name,
            count,
            has_more: page.has_more,
            reference,
        }));
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

    fn finish(&mut self, reason: CloseReason) -> Option<Bytes> {
        if let Some(member) = self.member.take() {
            self.hub.leave(&member, reason, None);
            info!(peer = %self.peer, id = member.id, reason = reason.as_str(), "left");
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
