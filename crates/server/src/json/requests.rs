//! What a logged-in user asks for: messages, rooms, topics, nicknames,
//! operators' actions.

use chatroom_proto::ErrorCode;
use chatroom_proto::json::{
    Ack, AwayNotice, BanTarget, Conversation, ConversationList, Done, ErrorFrame, MemberList,
    Parted, Ref, Renamed, Request, RoomList, ServerFrame, TopicInfo, WhoisInfo, WhowasEntry,
    WhowasList, encode_frame,
};
use chatroom_proto::nick::{self};
use tracing::info;

use super::{JsonSession, MAX_SEARCH_OFFSET, replies};
use crate::hub::{Client, HubError, Style, Topic};
use crate::store::{ConversationQuery, Counterpart, Failure, Outcome, Peer, Receipt, SearchQuery};

impl JsonSession {
    /// The requests that need a logged-in user.
    pub(super) async fn member_request(
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
                let style = Style::chat(action);
                let receipt = self.receipt(reference);
                hub.say(client, room.as_deref(), &message, style, receipt)?;
            }
            Request::Direct {
                to,
                message,
                action,
            } => {
                let style = Style::chat(action);
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
                let reader = hub.reader(client)?;
                Box::pin(self.direct_replay(reader, with, before, limit, reference)).await;
            }
            Request::Conversations {
                limit,
                after,
                before,
                rooms,
            } => {
                let query = ConversationQuery {
                    reader: hub.reader(client)?,
                    after_ts: after,
                    before_ts: before,
                    rooms,
                    limit,
                    from_after: false,
                };
                match Box::pin(hub.store().conversations(query)).await {
                    Ok(peers) => self.send(&ServerFrame::Conversations(ConversationList {
                        conversations: peers.into_iter().map(conversation).collect(),
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
                    reader: hub.reader(client)?,
                    text: text.clone(),
                    room,
                    with: with.as_deref().map(nick::fold),
                    limit,
                    offset,
                };
                Box::pin(self.search(query, text, reference)).await;
            }
            Request::MarkRead { target, ts } => {
                Box::pin(self.mark_read(client, target, ts, reference)).await;
            }
            Request::ReadMarkers => Box::pin(self.read_markers(client, reference)).await,
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
            Request::Whowas { nickname, limit } => {
                let entries = hub.whowas(&nickname, limit as usize);
                if entries.is_empty() {
                    self.send_error(
                        ErrorCode::NoSuchUser,
                        format!("nobody gave up the nickname {nickname:?} recently"),
                        reference,
                    );
                    return Ok(());
                }
                self.send(&ServerFrame::Whowas(WhowasList {
                    nickname,
                    entries: entries
                        .into_iter()
                        .map(|d| WhowasEntry {
                            nickname: d.nick,
                            user: d.user,
                            host: d.host,
                            realname: d.realname,
                            ts: d.at,
                        })
                        .collect(),
                    reference,
                }));
            }
            Request::Join { room, key } => {
                hub.prepare_join(&room).await;
                let joined_ref = reference.clone();
                let joined = hub.join(client, &room, key.as_deref(), |joined| {
                    encode_frame(&ServerFrame::Joined(chatroom_proto::json::Joined {
                        room: joined.name.clone(),
                        topic: joined.topic.text.clone(),
                        members: joined
                            .members
                            .iter()
                            .map(|m| replies::member(&m.person, m.standing, m.away.as_deref()))
                            .collect(),
                        reference: joined_ref,
                    }))
                })?;
                info!(peer = %self.peer, id = client.id, room = %joined.name, "joined");
                Box::pin(self.join_marker(client, &joined.name, reference.clone())).await;
                hub.history_ready(joined.horizon).await;
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
                let rooms = hub.rooms(client);
                let rooms = rooms.into_iter().map(replies::room).collect();
                self.send(&ServerFrame::RoomList(RoomList { rooms, reference }));
            }
            Request::Who { room } => {
                let (room, members) = hub.who(client, &room)?;
                let members = members
                    .into_iter()
                    .map(|(p, standing)| replies::member(&p.person, standing, p.away.as_deref()))
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
                let (topic, _) = hub.set_topic(client, &room, &text)?;
                self.send_topic(topic, reference);
            }
            Request::Nick { nickname } => {
                hub.claim_rename(client.id, &nickname).await?;
                let renamed = hub.rename(client, &nickname);
                hub.renamed_in_cluster(client.id, &nickname, renamed.is_ok());
                let renamed = renamed?;
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
            Request::Mode { room, modes, args } => {
                self.mode_request(client, &room, modes.as_deref(), &args, reference)?;
            }
            Request::Invite { room, nickname } => {
                let (room, target) = hub.invite(client, &room, &nickname)?;
                info!(peer = %self.peer, id = client.id, %room, target = %target.nick, "invited");
                done(self, "invite", reference);
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
            request @ (Request::CertAdd { .. } | Request::CertDel { .. } | Request::CertList) => {
                Box::pin(self.certs(client, request, reference)).await;
            }
            Request::Login { .. }
            | Request::Register { .. }
            | Request::Logout
            | Request::Ping
            | Request::Pong => {}
        }
        Ok(())
    }

    /// For a message whose sender asked for an acknowledgement (it carried
    /// a `ref`): what sends the `ack` once the message is durable, or an
    /// error if it could not be stored. In a cluster, where a message's
    /// fate is known only once Redis answered, a message without a `ref`
    /// gets one too, that tells only of a refusal (a single node refuses at
    /// once).
    pub(super) fn receipt(&mut self, reference: Option<Ref>) -> Option<Receipt> {
        if reference.is_none() && self.hub.cluster().is_none() {
            return None;
        }
        if reference.is_some() {
            self.awaiting_receipts = true;
        }
        let outbox = self.outbox.clone();
        Some(Box::new(move |outcome: Outcome<'_>| {
            let frame = match outcome.error {
                None if reference.is_none() => return,
                None => ServerFrame::Ack(Ack {
                    reference,
                    msg_id: outcome.msg_id,
                    ts: outcome.ts,
                }),
                Some(Failure::NotStored(e)) => ServerFrame::Error(ErrorFrame {
                    code: ErrorCode::InternalError,
                    message: format!(
                        "message {} was delivered but could not be stored: {e}",
                        outcome.msg_id
                    ),
                    reference,
                }),
                Some(Failure::NotSent(why)) => ServerFrame::Error(ErrorFrame {
                    code: ErrorCode::InternalError,
                    message: format!("not sent, nobody got it: {why}; try again"),
                    reference,
                }),
                Some(Failure::NoSuchUser(nick)) => ServerFrame::Error(ErrorFrame {
                    code: ErrorCode::NoSuchUser,
                    message: format!("no user called {nick} is online"),
                    reference,
                }),
            };
            outbox.push_reply(encode_frame(&frame));
        }))
    }

    /// Answers with a room's topic.
    pub(super) fn send_topic(&self, topic: Topic, reference: Option<Ref>) {
        self.send(&ServerFrame::Topic(TopicInfo {
            room: topic.room,
            topic: topic.text,
            set_by: topic.set_by,
            ts: topic.set_at,
            reference,
        }));
    }
}

/// A conversation as the JSON protocol says it.
fn conversation(peer: Peer) -> Conversation {
    let (nickname, room) = match peer.with {
        Counterpart::Person(nick) => (Some(nick), None),
        Counterpart::Room { name, .. } => (None, Some(name)),
    };
    Conversation {
        nickname,
        room,
        msg_id: peer.msg_id,
        ts: peer.ts,
    }
}
