//! The JSON protocol's side of a connection: requests in, hub calls, frames out.
//!
//! Compatible with the source tutorial's client: `login` replies with a
//! `welcome` carrying `"status":"ok"` and a non-zero `id`; `broadcast` is
//! relayed to the room and answered only when it carries a `ref`; the
//! client's `sender_id` is ignored in favour of the session's own identity.
//! Keepalive pings go only to clients that declared protocol 2 or later at
//! login: the tutorial's client cannot answer them (TCP keepalive watches it).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chatroom_proto::ErrorCode;
use chatroom_proto::json::{
    Ack, AwayNotice, BanTarget, ChatMessage, Conversation, ConversationList, DirectMessage, Done,
    Envelope, ErrorFrame, FrameError, HistoryEnd, JsonFramer, Limits, MemberInfo, MemberList,
    Notice, Parted, Pong, Ref, Registered, Renamed, Request, RequestError, RoomList, SearchEnd,
    SearchHit, Secret, ServerFrame, TopicInfo, Welcome, WhoisInfo, encode_frame, parse_request,
};
use chatroom_proto::nick::{self, SYSTEM_NICK};
use chatroom_proto::room::{self, LOBBY};
use tracing::{debug, info, warn};

use crate::accounts::{AccountError, Identity, WRONG_PASSWORDS_PER_CONNECTION};
use crate::conn::{Cost, Flow, Session};
use crate::event::Format;
use crate::hub::{Arrival, Client, Hub, HubError, Style, Topic};
use crate::json::replies;
use crate::outbox::{CloseReason, Outbox};
use crate::store::{Outcome, Reader, Receipt, SearchQuery};

/// The deepest a `search` may page (its `cursor` counts results skipped).
const MAX_SEARCH_OFFSET: u32 = 10_000;

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

/// What every JSON connection of one server shares.
#[derive(Debug, Clone)]
pub struct JsonSettings {
    /// The largest frame a client may send.
    pub max_frame: usize,
    /// How many stored messages a join replays.
    pub history_replay: u32,
    /// The limits `welcome` announces.
    pub limits: Limits,
}

/// The state of one JSON connection.
pub struct JsonSession {
    hub: Arc<Hub>,
    outbox: Arc<Outbox>,
    peer: SocketAddr,
    framer: JsonFramer,
    client: Option<Arc<Client>>,
    settings: Arc<JsonSettings>,
    /// The protocol version the client declared at login.
    protocol: u32,
    /// Whether an acknowledgement may still be on its way from the store
    /// (a goodbye waits for them).
    awaiting_receipts: bool,
    /// Wrong passwords (and attempts while told to wait) on this connection.
    wrong_passwords: u8,
}

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

    fn account_error(&self, error: &AccountError, reference: Option<Ref>) {
        let code = crate::json::errors::account_error(error);
        self.send_error(code, error.to_string(), reference);
    }

    async fn login(
        &mut self,
        nickname: String,
        password: Option<Secret>,
        protocol: Option<u32>,
        reference: Option<Ref>,
    ) -> Flow {
        if let Some(client) = &self.client {
            let text = match self.hub.person(client) {
                Some(who) => format!("already logged in as {}", who.nick),
                None => "already logged in".to_owned(),
            };
            self.send_error(ErrorCode::AlreadyLoggedIn, text, reference);
            return Flow::Continue;
        }
        // Rare paths like this one are boxed, so every connection's future
        // does not carry their state (see `drive`).
        let identity = match Box::pin(self.hub.accounts().check(
            &nickname,
            password.as_ref(),
            self.peer.ip(),
        ))
        .await
        {
            Ok(identity) => identity,
            Err(e) => {
                self.account_error(&e, reference);
                // Asking again while told to wait counts as much as a
                // wrong guess.
                if matches!(
                    e,
                    AccountError::WrongPassword(_) | AccountError::TooManyAttempts(_)
                ) {
                    self.wrong_passwords += 1;
                    if self.wrong_passwords >= WRONG_PASSWORDS_PER_CONNECTION {
                        return Flow::Close(CloseReason::TooManyAttempts);
                    }
                }
                return Flow::Continue;
            }
        };
        self.enter(nickname, identity, password.is_some(), protocol, reference);
        Flow::Continue
    }

    /// Logs in as `nickname` with an established identity.
    fn enter(
        &mut self,
        nickname: String,
        identity: Identity,
        password_given: bool,
        protocol: Option<u32>,
        reference: Option<Ref>,
    ) {
        let welcome_ref = reference.clone();
        let epoch = format!("{:016x}", self.hub.epoch());
        let limits = self.settings.limits;
        let arrival = Arrival {
            nick: nickname.clone(),
            user: nickname.clone(),
            realname: nickname.clone(),
            address: self.peer,
            format: Format::Json,
            echo: false,
            identity,
            password_given,
        };
        let result = self
            .hub
            .login(arrival, self.outbox.clone(), |client, nickname, _| {
                encode_frame(&ServerFrame::Welcome(Welcome {
                    status: "ok".to_owned(),
                    id: client.id,
                    nickname: nickname.to_owned(),
                    protocol: chatroom_proto::PROTOCOL_VERSION,
                    server: SERVER_NAME.to_owned(),
                    rooms: vec![LOBBY.to_owned()],
                    epoch: Some(epoch),
                    limits: Some(limits),
                    reference: welcome_ref,
                }))
            });
        match result {
            Ok(client) => {
                info!(peer = %self.peer, id = client.id, nick = %nickname, "logged in");
                self.protocol = protocol.unwrap_or(1);
                self.client = Some(client);
            }
            Err(e) => self.send_error(crate::json::errors::hub_error(&e), e.to_string(), reference),
        }
    }

    async fn register(
        &mut self,
        nickname: Option<String>,
        password: Secret,
        reference: Option<Ref>,
    ) {
        let (nickname, logging_in) = match (&self.client, nickname) {
            (Some(client), _) => match self.hub.person(client) {
                Some(who) => (who.nick.to_string(), false),
                None => return,
            },
            (None, Some(nickname)) => (nickname, true),
            (None, None) => {
                return self.send_error(
                    ErrorCode::MissingField,
                    "field `nickname` is missing (needed before login)",
                    reference,
                );
            }
        };
        let client = self.client.clone();
        match Box::pin(
            self.hub
                .register(client.as_deref(), &nickname, &password, self.peer.ip()),
        )
        .await
        {
            Ok(identity) => {
                if logging_in {
                    self.enter(
                        nickname.clone(),
                        identity,
                        false,
                        Some(chatroom_proto::PROTOCOL_VERSION),
                        None,
                    );
                }
                self.send(&ServerFrame::Registered(Registered {
                    nickname,
                    reference,
                }));
            }
            Err(e) => self.account_error(&e, reference),
        }
    }

    async fn request(&mut self, envelope: Envelope) -> Flow {
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
                    self.send_error(crate::json::errors::hub_error(&e), e.to_string(), reference);
                }
            }
        }
        Flow::Continue
    }

    /// The requests that need a logged-in user.
    async fn member_request(
        &mut self,
        client: &Client,
        request: Request,
        reference: Option<Ref>,
    ) -> Result<(), HubError> {
        let hub = self.hub.clone();
        let done = |s: &Self, request: &str, reference| {
            s.send(&ServerFrame::Done(Done {
                request: request.to_owned(),
                reference,
            }));
        };
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
                let receipt = self.receipt(reference);
                hub.say(client, room.as_deref(), &message, style, receipt)?;
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
                hub.direct(client, &to, &message, style, |nickname, away| {
                    // Whoever writes to someone away is told, before the
                    // ack (which waits for the store).
                    if let Some(away) = away {
                        self.send(&ServerFrame::Away(AwayNotice {
                            nickname: nickname.to_owned(),
                            message: away.to_owned(),
                            reference: reference.clone(),
                        }));
                    }
                    self.receipt(reference)
                })?;
            }
            Request::DirectHistory {
                with,
                before,
                limit,
            } => {
                let reader = self.reader(client)?;
                Box::pin(self.direct_replay(reader, with, before, limit, reference)).await;
            }
            Request::Conversations { limit } => {
                let reader = self.reader(client)?;
                match Box::pin(hub.store().conversations(reader, limit)).await {
                    Ok(peers) => self.send(&ServerFrame::Conversations(ConversationList {
                        conversations: peers
                            .into_iter()
                            .map(|p| Conversation {
                                nickname: p.nick,
                                msg_id: p.msg_id,
                                ts: p.ts,
                            })
                            .collect(),
                        reference,
                    })),
                    Err(e) => self.store_failed("conversations", &e, reference),
                }
            }
            Request::Search {
                text,
                room,
                with,
                limit,
                cursor,
            } => {
                let offset = match cursor.as_deref().map(str::parse::<u32>) {
                    None => 0,
                    Some(Ok(offset)) if offset <= MAX_SEARCH_OFFSET => offset,
                    Some(_) => {
                        self.send_error(
                            ErrorCode::InvalidField,
                            "field `cursor` is not one a search_end gave",
                            reference,
                        );
                        return Ok(());
                    }
                };
                let room = match room {
                    Some(room) => Some(hub.membership(client, &room)?.0),
                    None => None,
                };
                let query = SearchQuery {
                    reader: self.reader(client)?,
                    text: text.clone(),
                    room,
                    with: with.as_deref().map(nick::fold),
                    limit,
                    offset,
                };
                Box::pin(self.search(query, text, reference)).await;
            }
            Request::Away { message } => {
                hub.set_away(client, message);
                done(self, "away", reference);
            }
            Request::Whois { nickname } => {
                let p = hub.whois(&nickname).ok_or(HubError::NoSuchUser(nickname))?;
                self.send(&ServerFrame::Whois(WhoisInfo {
                    nickname: p.person.nick.to_string(),
                    id: p.person.id,
                    away: p.away,
                    rooms: p.rooms,
                    since: p.since,
                    account: p.account,
                    operator: p.operator,
                    reference,
                }));
            }
            Request::Join { room } => {
                let joined_ref = reference.clone();
                let joined = hub.join(client, &room, |joined| {
                    encode_frame(&ServerFrame::Joined(chatroom_proto::json::Joined {
                        room: joined.name.clone(),
                        topic: joined.topic.text.clone(),
                        members: joined.members.iter().map(replies::member).collect(),
                        reference: joined_ref,
                    }))
                })?;
                info!(peer = %self.peer, id = client.id, room = %joined.name, "joined");
                Box::pin(self.replay(
                    joined.key,
                    joined.name,
                    Some(joined.horizon),
                    self.settings.history_replay,
                    reference,
                ))
                .await;
            }
            Request::Part { room } => {
                let room = hub.part(client, &room, None)?;
                self.send(&ServerFrame::Parted(Parted { room, reference }));
            }
            Request::Rooms => {
                let rooms = hub.rooms();
                let rooms = rooms.into_iter().map(replies::room).collect();
                self.send(&ServerFrame::RoomList(RoomList { rooms, reference }));
            }
            Request::Who { room } => {
                let (room, members) = hub.who(&room)?;
                let members = members
                    .into_iter()
                    .map(|p| MemberInfo {
                        id: p.person.id,
                        nickname: p.person.nick.to_string(),
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
                let topic = hub.set_topic(client, &room, &text)?;
                self.send_topic(topic, reference);
            }
            Request::Nick { nickname } => {
                let renamed = hub.rename(client, &nickname)?;
                info!(peer = %self.peer, id = client.id, old = %renamed.old, new = %renamed.new, "renamed");
                self.send(&ServerFrame::Renamed(Renamed {
                    old_nickname: renamed.old,
                    nickname: renamed.new,
                    reference,
                }));
            }
            Request::History {
                room,
                before,
                limit,
            } => {
                let (key, name) = hub.membership(client, &room)?;
                Box::pin(self.replay(key, name, before, limit, reference)).await;
            }
            Request::Kick {
                room,
                nickname,
                reason,
            } => {
                hub.kick(
                    client,
                    &room,
                    &nickname,
                    reason.as_deref().unwrap_or("kicked"),
                )?;
                info!(peer = %self.peer, id = client.id, %room, target = %nickname, "kicked");
                done(self, "kick", reference);
            }
            Request::Kill { nickname, reason } => {
                hub.kill(client, &nickname)?;
                info!(peer = %self.peer, id = client.id, target = %nickname, reason = reason.as_deref().unwrap_or(""), "killed");
                done(self, "kill", reference);
            }
            Request::Ban { target, reason } => {
                let reason = reason.as_deref().unwrap_or("banned");
                match &target {
                    BanTarget::Nickname(nick) => hub.ban_nick(client, nick, reason)?,
                    BanTarget::Ip(ip) => {
                        hub.ban_ip(client, *ip, reason)?;
                    }
                }
                info!(peer = %self.peer, id = client.id, ?target, "banned");
                done(self, "ban", reference);
            }
            Request::Unban { target } => {
                if hub.unban(client, &replies::ban_target(target.clone()))? {
                    info!(peer = %self.peer, id = client.id, ?target, "unbanned");
                }
                done(self, "unban", reference);
            }
            Request::Oper { name, password } => {
                match Box::pin(hub.accounts().oper(&name, &password, self.peer.ip())).await {
                    Ok(()) => {
                        hub.promote(client)?;
                        done(self, "oper", reference);
                    }
                    Err(e) => self.account_error(&e, reference),
                }
            }
            Request::Unregister { nickname, password } => {
                Box::pin(self.unregister(client, nickname, password, reference)).await?;
            }
            Request::Login { .. }
            | Request::Register { .. }
            | Request::Logout
            | Request::Ping
            | Request::Pong => {}
        }
        Ok(())
    }

    /// Deletes an account: one's own with its password, anyone's as an
    /// operator.
    async fn unregister(
        &mut self,
        client: &Client,
        nickname: Option<String>,
        password: Option<Secret>,
        reference: Option<Ref>,
    ) -> Result<(), HubError> {
        let own = self
            .hub
            .person(client)
            .ok_or(HubError::Gone)?
            .nick
            .to_string();
        let target = nickname.unwrap_or_else(|| own.clone());
        if chatroom_proto::nick::fold(&target) == chatroom_proto::nick::fold(&own) {
            let Some(password) = password else {
                self.send_error(
                    ErrorCode::MissingField,
                    "field `password` is missing: your account's password, to delete it",
                    reference,
                );
                return Ok(());
            };
            match self
                .hub
                .accounts()
                .check(&own, Some(&password), self.peer.ip())
                .await
            {
                Ok(identity) if identity.account.is_some() => {}
                Ok(_) => return Err(HubError::NoAccount(own)),
                Err(e) => {
                    self.account_error(&e, reference);
                    return Ok(());
                }
            }
        } else if !self.hub.is_operator(client) {
            return Err(HubError::NotOperator);
        }
        match self.hub.accounts().unregister(&target).await {
            Ok(true) => {
                self.hub
                    .forget_account(&chatroom_proto::nick::fold(&target));
                info!(peer = %self.peer, id = client.id, account = %target, "account deleted");
                self.send(&ServerFrame::Done(Done {
                    request: "unregister".to_owned(),
                    reference,
                }));
            }
            Ok(false) => return Err(HubError::NoAccount(target)),
            Err(e) => self.account_error(&e, reference),
        }
        Ok(())
    }

    /// For a message whose sender asked for an acknowledgement (it carried
    /// a `ref`): what sends the `ack` once the message is durable, or an
    /// error if it could not be stored.
    fn receipt(&mut self, reference: Option<Ref>) -> Option<Receipt> {
        let reference = reference?;
        self.awaiting_receipts = true;
        let outbox = self.outbox.clone();
        Some(Box::new(move |outcome: Outcome<'_>| {
            let frame = match outcome.error {
                None => ServerFrame::Ack(Ack {
                    reference: Some(reference),
                    msg_id: outcome.msg_id,
                    ts: outcome.ts,
                }),
                Some(e) => ServerFrame::Error(ErrorFrame {
                    code: ErrorCode::InternalError,
                    message: format!(
                        "message {} was delivered but could not be stored: {e}",
                        outcome.msg_id
                    ),
                    reference: Some(reference),
                }),
            };
            outbox.push(encode_frame(&frame));
        }))
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
            with: None,
            count,
            has_more: page.has_more,
            reference,
        }));
    }

    /// Whose messages this user may read: this session's, their account's,
    /// and those of the rooms they are in now.
    fn reader(&self, client: &Client) -> Result<Reader, HubError> {
        let who = self.hub.person(client).ok_or(HubError::Gone)?;
        let profile = self
            .hub
            .whois(&who.nick)
            .filter(|p| p.person.id == client.id)
            .ok_or(HubError::Gone)?;
        Ok(Reader {
            user_id: client.id,
            account: profile.account,
            rooms: profile.rooms.iter().map(|name| room::fold(name)).collect(),
        })
    }

    /// Tells the client a store read failed.
    fn store_failed(&self, what: &str, error: &crate::store::StoreError, reference: Option<Ref>) {
        tracing::error!(error = %error, what, "store read failed");
        self.send_error(
            ErrorCode::InternalError,
            format!("{what} is unavailable right now"),
            reference,
        );
    }

    /// Sends up to `limit` stored direct messages between the reader and
    /// `with` (ids below `before`), oldest first and marked as history,
    /// then `history_end` naming `with`.
    async fn direct_replay(
        &self,
        reader: Reader,
        with: String,
        before: Option<u64>,
        limit: u32,
        reference: Option<Ref>,
    ) {
        let store = self.hub.store();
        let page = match store
            .direct_history(reader, nick::fold(&with), before, limit)
            .await
        {
            Ok(page) => page,
            Err(e) => return self.store_failed("history", &e, reference),
        };
        let count = u32::try_from(page.messages.len()).unwrap_or(u32::MAX);
        for m in page.messages {
            let (to_id, to_nickname) = m.recipient.unwrap_or_default();
            self.send(&ServerFrame::Direct(DirectMessage {
                msg_id: m.id,
                ts: m.ts,
                sender_id: m.sender_id,
                sender_nickname: m.sender_nick,
                to_id,
                to_nickname,
                message: m.text,
                action: m.action,
                history: true,
            }));
        }
        self.send(&ServerFrame::HistoryEnd(HistoryEnd {
            room: String::new(),
            with: Some(with),
            count,
            has_more: page.has_more,
            reference,
        }));
    }

    /// Runs a search and sends its page: a `search_hit` per result, best
    /// first, then `search_end` (with the cursor of the next page).
    async fn search(&self, query: SearchQuery, text: String, reference: Option<Ref>) {
        let offset = query.offset;
        let found = match self.hub.store().search(query).await {
            Ok(found) => found,
            Err(e) => return self.store_failed("search", &e, reference),
        };
        let count = u32::try_from(found.messages.len()).unwrap_or(u32::MAX);
        for m in found.messages {
            self.send(&ServerFrame::SearchHit(SearchHit {
                msg_id: m.id,
                ts: m.ts,
                room: m.room.map(|(_, name)| name),
                sender_id: m.sender_id,
                sender_nickname: m.sender_nick,
                to_nickname: m.recipient.map(|(_, nick)| nick),
                message: m.text,
                action: m.action,
                reference: reference.clone(),
            }));
        }
        self.send(&ServerFrame::SearchEnd(SearchEnd {
            text,
            count,
            next: found
                .has_more
                .then(|| offset.saturating_add(count).to_string()),
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
            | Request::Kill { .. }
            | Request::Ban { .. }
            | Request::Unban { .. } => 2,
            Request::Rooms | Request::Who { .. } | Request::Part { .. } => 3,
            Request::Join { .. }
            | Request::Login { .. }
            | Request::Register { .. }
            | Request::Unregister { .. }
            | Request::Oper { .. } => 5,
            // These reach everyone sharing a room with the user.
            Request::Nick { .. } | Request::Topic { topic: Some(_), .. } => 10,
            Request::Whois { .. } => 2,
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
