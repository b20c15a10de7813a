//! Channels: JOIN, PART, NAMES, TOPIC, LIST.

use bytes::Bytes;
use chatroom_proto::irc::{self, Message, Source, channel, numeric};

use super::IrcSession;
use super::elist::ListQuery;
use super::replies::user_name;
use crate::clock::now_ms;
use crate::event::Person;
use crate::hub::{Client, Joined, Standing};

impl IrcSession {
    /// What a client sees when it joins: its own JOIN, the topic, the names.
    /// Runs under the hub's lock: no hub calls here.
    pub(super) fn join_reply(&self, client: &Client, nick: &str, joined: &Joined) -> Vec<Message> {
        let channel = channel::room_to_channel(&joined.name);
        let me = joined
            .members
            .iter()
            .find(|m| m.person.id == client.id)
            .map(|m| &m.person);
        // As others see the joiner (an operator may have changed the host).
        let source = match me {
            Some(me) => super::events::source(me),
            None => Source::user(
                nick,
                user_name(self.user.as_ref().map_or("", |(u, _)| u), nick),
                &*Person::cloak(client.id),
            ),
        };
        let account = me.and_then(|p| p.account.as_deref());
        let mut own = Message::new("JOIN").with_source(source).param(&channel);
        let format = self.caps.irc_format();
        if format.extended_join {
            let realname = self.user.as_ref().map_or("", |(_, r)| r);
            own = own.param(account.unwrap_or("*")).trailing_param(realname);
        }
        if let Some(account) = account.filter(|_| format.account_tag) {
            own = own.with_tag("account", Some(account));
        }
        let mut lines = vec![own];
        lines.extend(self.topic_lines(nick, &joined.topic, false));
        let names = self.prefixed(joined.members.iter().map(|m| (&m.person, m.standing)));
        let names = names.iter().map(String::as_str);
        lines.extend(self.names_lines(nick, joined.secret, &channel, names));
        lines.push(self.end_of_names(nick, &channel));
        lines
    }

    /// `JOIN #a,#b [keys]`, or `JOIN 0` to part every channel.
    pub(super) async fn join(&mut self, channels: &str, keys: Option<&str>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        if channels == "0" {
            let rooms = self
                .hub
                .whois(&self.addressee())
                .map(|p| p.rooms)
                .unwrap_or_default();
            for room in rooms {
                self.part(&channel::room_to_channel(&room), None);
            }
            return;
        }
        for (name, key) in channel::join_targets(channels, keys) {
            let Some(room) = self.room_of(name) else {
                continue;
            };
            let nick = self.addressee();
            let marker = self.join_markread(room).await;
            self.hub.prepare_join(room).await;
            let result = self.hub.join(&client, room, key, |joined| {
                let mut out = Vec::new();
                let mut lines = self.join_reply(&client, &nick, joined);
                if let Some(marker) = &marker {
                    // After the names, before their end (draft/read-marker).
                    lines.insert(lines.len().saturating_sub(1), marker.clone());
                }
                for m in lines {
                    m.encode_into(&mut out);
                }
                Bytes::from(out)
            });
            match result {
                Ok(joined) => {
                    self.hub.history_ready(joined.horizon).await;
                    Box::pin(self.replay(joined.key, joined.name, Some(joined.horizon))).await;
                }
                Err(e) => self.hub_error(&e, name),
            }
        }
    }

    /// `PART #a,#b [reason]`.
    pub(super) fn part(&mut self, channels: &str, reason: Option<&str>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        for name in channel::split_list(channels) {
            let Some(room) = self.room_of(name) else {
                continue;
            };
            let me = self.me();
            match self.hub.part(&client, room, reason) {
                Ok(room) => {
                    let mut m = Message::new("PART")
                        .with_source(me)
                        .param(channel::room_to_channel(&room));
                    if let Some(reason) = reason {
                        m = m.trailing_param(reason);
                    }
                    self.send(&m);
                }
                Err(e) => self.hub_error(&e, name),
            }
        }
    }

    /// Nicknames with their prefixes (`@ann`, `+bob`; every prefix with
    /// `multi-prefix`).
    pub(super) fn prefixed<'a>(
        &self,
        members: impl IntoIterator<Item = (&'a Person, Standing)>,
    ) -> Vec<String> {
        let all = self.caps.has(super::caps::MULTI_PREFIX);
        let full = self.caps.has(super::caps::USERHOST_IN_NAMES);
        members
            .into_iter()
            .map(|(p, standing)| {
                let prefixes = standing.prefixes(all);
                if full {
                    format!("{prefixes}{}!{}@{}", p.nick, p.user, p.host)
                } else {
                    format!("{prefixes}{}", p.nick)
                }
            })
            .collect()
    }

    /// `NAMES [#a,#b]`: the `353`s of every channel the client may see,
    /// then one `366` naming the channels as asked (RFC 2812).
    pub(super) fn names(&self, channels: &str) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let nick = self.addressee();
        let mut lines = Vec::new();
        for name in channel::split_list(channels) {
            let Ok(room) = channel::channel_to_room(name) else {
                continue;
            };
            if let Ok((room, members)) = self.hub.who(&client, room) {
                let secret = self.hub.modes(&client, &room).is_ok_and(|m| {
                    m.modes
                        .contains(chatroom_proto::modes::Flag::Secret.letter())
                });
                let names = self.prefixed(members.iter().map(|(p, s)| (&p.person, *s)));
                let names = names.iter().map(String::as_str);
                let channel = channel::room_to_channel(&room);
                lines.extend(self.names_lines(&nick, secret, &channel, names));
            }
        }
        let asked = if channels.is_empty() {
            "*"
        } else {
            irc::safe_param(channels)
        };
        lines.push(self.end_of_names(&nick, asked));
        self.send_all(&lines);
    }

    /// `TOPIC #a` asks; `TOPIC #a :text` sets.
    pub(super) fn topic(&self, name: &str, text: Option<&str>) {
        let Some(client) = &self.client else { return };
        let Some(room) = self.room_of(name) else {
            return;
        };
        match text {
            None => match self.hub.topic(room) {
                Ok(topic) => self.send_all(&self.topic_lines(&self.addressee(), &topic, true)),
                Err(e) => self.hub_error(&e, name),
            },
            Some(text) => {
                let me = self.me();
                match self.hub.set_topic(client, room, text) {
                    Ok((topic, msg_id)) => {
                        let m = Message::new("TOPIC")
                            .with_source(me)
                            .param(channel::room_to_channel(&topic.room))
                            .trailing_param(&topic.text);
                        // The time and id the others' line has (history
                        // keeps the change under that id).
                        let at = topic.set_at.unwrap_or_else(now_ms);
                        let format = self.caps.irc_format();
                        // (In a cluster the id comes with the others' line.)
                        let msg_id = (msg_id > 0).then_some(msg_id);
                        let m = super::events::with_server_tags(m, format, None, msg_id, at);
                        self.send(&m);
                    }
                    Err(e) => self.hub_error(&e, name),
                }
            }
        }
    }

    /// `LIST [<names, masks and filters>]` (see [`ListQuery`]): the
    /// channels with members, their counts and topics; secret ones only to
    /// their members. A room with nobody in it is not a channel on IRC (as
    /// InspIRCd forgets an empty channel), so it is not listed, even by name.
    pub(super) fn list(&self, arg: &str) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let query = ListQuery::parse(arg);
        let now = now_ms();
        let mut lines = vec![
            self.numeric(numeric::RPL_LISTSTART)
                .param("Channel")
                .trailing_param("Users  Name"),
        ];
        for room in self.hub.rooms(&client) {
            let name = channel::room_to_channel(&room.name);
            if room.members == 0 || !query.admits(&name, &room, now) {
                continue;
            }
            lines.push(
                self.numeric(numeric::RPL_LIST)
                    .param(name)
                    .param(room.members.to_string())
                    .trailing_param(room.topic),
            );
        }
        lines.push(
            self.numeric(numeric::RPL_LISTEND)
                .trailing_param("End of /LIST"),
        );
        self.send_all(&lines);
    }
}
