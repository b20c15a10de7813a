//! What the server says, and what the connection does.
//!
//! After a reconnect the app logs in again with the same nickname (adding
//! `_` while it is taken), rejoins its rooms, and pages back through each
//! room's history until it meets the newest message it already showed.
//! Windows order lines by message id and drop ids they already have, so
//! whatever order replays and live lines arrive in, nothing shows twice.

use chatroom_proto::ErrorCode;
use chatroom_proto::json::{
    Ack, ChatMessage, ConversationList, DirectMessage, ErrorFrame, HistoryEnd, Joined, MemberInfo,
    MemberList, Presence, PresenceEvent, Ref, Renamed, Request, RoomList, SearchEnd, SearchHit,
    ServerFrame, TopicInfo, Welcome, WhoisInfo,
};
use chatroom_proto::nick::{self, MAX_NICK_CHARS};
use chatroom_proto::room;

use crate::moderation;

use super::super::event::NetEvent;
use super::super::text::hhmm;
use super::super::window::{Line, LineKind, Older, WindowKey};
use super::{
    App, CHOOSE_NICK, Conn, HISTORY_PAGE, Login, MAX_CONVERSATION_WINDOWS, MAX_GAP_PAGES, Me, Page,
    Pending, Purpose,
};

impl App {
    pub(super) fn on_net(&mut self, news: NetEvent) {
        match news {
            NetEvent::Connecting { attempt } => self.conn = Conn::Connecting { attempt },
            NetEvent::Connected { generation } => {
                self.conn = Conn::Online;
                self.last_failure = None;
                self.generation = generation;
                self.login = Login::Idle;
                self.note(0, LineKind::Notice(format!("connected to {}", self.server)));
                // Without a nickname the prompt (and the notice at start-up)
                // asks for one; the login follows when it is typed.
                self.send_login();
            }
            NetEvent::Frame(frame) => self.on_frame(*frame),
            NetEvent::Garbled(what) => self.note(0, LineKind::Error(what)),
            NetEvent::Lost { reason, retry_in } => self.on_lost(reason, retry_in),
        }
    }

    fn on_lost(&mut self, reason: String, retry_in: std::time::Duration) {
        let was_online = self.conn == Conn::Online;
        let was_logged_in = self.logged_in();
        let retry_ms = i64::try_from(retry_in.as_millis()).unwrap_or(i64::MAX);
        self.conn = Conn::Offline {
            reason: reason.clone(),
            retry_at_ms: self.now_ms.saturating_add(retry_ms),
        };
        self.login = Login::Idle;
        if !was_online && self.last_failure.as_deref() != Some(reason.as_str()) {
            // Said once per reason, not at every try.
            let text = format!("cannot connect to {}: {reason}; retrying", self.server);
            self.note(0, LineKind::Error(text));
        }
        self.last_failure = Some(reason.clone());
        if was_online {
            let text = format!("disconnected from {}: {reason}; reconnecting", self.server);
            if was_logged_in {
                // Everywhere, so the gap shows where it happened.
                for index in 0..self.windows.len() {
                    self.note(index, LineKind::Error(text.clone()));
                }
            } else {
                self.note(0, LineKind::Error(text));
            }
        }
        for (_, pending) in std::mem::take(&mut self.pending) {
            match pending {
                Pending::Say { window, text, .. } => {
                    let index = self.index_or_status(&window);
                    self.note(
                        index,
                        LineKind::Error(format!(
                            "not confirmed before the connection dropped: {text}"
                        )),
                    );
                }
                Pending::Direct {
                    peer, text, origin, ..
                } => {
                    let index = self.index_or_status(&origin);
                    self.note(
                        index,
                        LineKind::Error(format!(
                            "not confirmed before the connection dropped (to {peer}): {text}"
                        )),
                    );
                }
                _ => {}
            }
        }
        for window in &mut self.windows {
            window.fetching_older = false;
        }
    }

    fn on_frame(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome(w) => self.on_welcome(w),
            ServerFrame::Message(m) => self.on_message(m),
            ServerFrame::Direct(d) => self.on_direct(d),
            ServerFrame::Presence(p) => self.on_presence(p),
            ServerFrame::Joined(j) => self.on_joined(j),
            ServerFrame::HistoryEnd(h) => self.on_history_end(h),
            ServerFrame::Parted(p) => {
                let pending = self.take_pending(p.reference.as_ref());
                if let Some(index) = self.window_index(&WindowKey::room(&p.room)) {
                    self.remove_window(index);
                }
                if !matches!(pending, Some(Pending::Part { quiet: true, .. })) {
                    self.note(0, LineKind::Notice(format!("you left #{}", p.room)));
                }
            }
            ServerFrame::RoomList(list) => self.on_room_list(list),
            ServerFrame::MemberList(list) => self.on_member_list(list),
            ServerFrame::Topic(t) => self.on_topic(t),
            ServerFrame::Modes(m) => {
                let index = self.moderation_window(m.reference.as_ref());
                let shown: Vec<&str> = std::iter::once(m.modes.as_str())
                    .chain(m.args.iter().map(String::as_str))
                    .collect();
                let text = format!("modes of #{}: {}", m.room, shown.join(" "));
                self.note(index, LineKind::Info(text));
            }
            ServerFrame::MaskList(list) => {
                let index = self.moderation_window(list.reference.as_ref());
                let what = if list.list == "e" {
                    "ban exceptions"
                } else {
                    "bans"
                };
                let mut text = format!("{} {what} in #{}", list.entries.len(), list.room);
                for e in &list.entries {
                    let at = hhmm(e.at, self.offset);
                    text.push_str(&format!("\n  {} (by {} at {at})", e.mask, e.by));
                }
                self.note(index, LineKind::Info(text));
            }
            ServerFrame::Renamed(r) => self.on_renamed(r),
            ServerFrame::Ack(a) => self.on_ack(a),
            ServerFrame::Error(e) => self.on_error(e),
            ServerFrame::Bye(notice) => {
                let text = format!("the server says: {}", notice.message);
                self.note(0, LineKind::Notice(text.clone()));
                if self.current != 0 {
                    self.note_here(LineKind::Notice(text));
                }
            }
            ServerFrame::Certs(list) => {
                if let Some(index) = self.reply_window(list.reference.as_ref()) {
                    self.note(index, LineKind::Info(crate::display::certs_text(&list)));
                }
            }
            ServerFrame::Registered(r) => {
                self.take_pending(r.reference.as_ref());
                if let Some(password) = self.registering.take() {
                    self.password = Some((nick::fold(&r.nickname), password));
                }
                let text = format!(
                    "registered {}: it now needs its password to log in",
                    r.nickname
                );
                self.note_here(LineKind::Notice(text));
            }
            ServerFrame::Done(d) => match self.take_pending(d.reference.as_ref()) {
                Some(Pending::Away { message, origin }) => {
                    let text = match &message {
                        Some(why) => format!("you are marked away: {why}"),
                        None => "you are back (no longer away)".to_owned(),
                    };
                    self.away = message;
                    let index = self.index_or_status(&origin);
                    self.note(index, LineKind::Notice(text));
                }
                Some(Pending::Moderation { origin, done }) => {
                    if let Some(text) = done {
                        let index = self.index_or_status(&origin);
                        self.note(index, LineKind::Notice(text));
                    }
                }
                _ => self.note_here(LineKind::Notice(format!("{} done", d.request))),
            },
            ServerFrame::SearchHit(hit) => self.on_search_hit(hit),
            ServerFrame::SearchEnd(end) => self.on_search_end(end),
            ServerFrame::Whois(w) => self.on_whois(w),
            ServerFrame::Away(a) => {
                let index = self.ensure_window(WindowKey::query(&a.nickname), &a.nickname);
                let text = format!("{} is away: {}", a.nickname, a.message);
                self.note(index, LineKind::Notice(text));
            }
            ServerFrame::Conversations(list) => self.on_conversations(list),
            // Pings are answered by the network task; they never get here.
            // The full-screen client keeps its own unread counts and does
            // not use read markers (yet), nor ask whowas.
            ServerFrame::Whowas(_)
            | ServerFrame::ReadMarker(_)
            | ServerFrame::ReadMarkers(_)
            | ServerFrame::Pong(_)
            | ServerFrame::Ping(_)
            | ServerFrame::Unknown => {}
        }
    }

    fn take_pending(&mut self, reference: Option<&Ref>) -> Option<Pending> {
        let number = match reference {
            Some(Ref::Number(n)) => n.as_u64()?,
            _ => return None,
        };
        self.pending.remove(&number)
    }

    fn on_welcome(&mut self, w: Welcome) {
        self.pending.retain(|_, p| !matches!(p, Pending::Login));
        // A server under another epoch numbers its messages afresh.
        let new_epoch = match (&self.epoch, &w.epoch) {
            (Some(before), Some(now)) => before != now,
            _ => false,
        };
        if new_epoch {
            self.era += 1;
            self.newest_id = 0;
        }
        if w.epoch.is_some() {
            self.epoch = w.epoch.clone();
        }
        self.limits = w.limits;
        self.login = Login::Done;
        self.wanted_nick = Some(w.nickname.clone());
        self.me = Some(Me {
            nick: w.nickname.clone(),
            id: w.id,
        });
        self.note(
            0,
            LineKind::Notice(format!(
                "logged in as {} (id {}) on {} ({})",
                w.nickname, w.id, self.server, w.server
            )),
        );
        let first = !self.logged_in_before;
        self.logged_in_before = true;
        if first {
            // Bring back the direct-message windows of earlier sessions.
            self.request(
                Request::Conversations {
                    limit: MAX_CONVERSATION_WINDOWS,
                    after: None,
                    before: None,
                    rooms: false,
                },
                Pending::Conversations,
            );
            for name in &w.rooms {
                let index = self.ensure_window(WindowKey::room(name), name);
                self.refresh_room(name, index, None);
            }
            if self.current == 0 && self.windows.len() > 1 {
                self.switch_to(1);
            }
            return;
        }
        // Back after a reconnect: the server put us in its default rooms;
        // rejoin ours, leave the others, fetch what was missed.
        let in_rooms: Vec<String> = w.rooms.iter().map(|r| room::fold(r)).collect();
        for index in 0..self.windows.len() {
            let window = &self.windows[index];
            if !window.is_room() {
                continue;
            }
            let name = window.name.clone();
            // In a new epoch nothing was seen yet: page back through all
            // of it (as far as a gap is fetched).
            let newest = if new_epoch {
                Some(0)
            } else {
                window.newest_msg_id(self.era)
            };
            let key = window.key().clone();
            let room_key = window.join_key.clone();
            self.note(index, LineKind::Notice("reconnected".into()));
            if in_rooms.contains(&room::fold(&name)) {
                self.refresh_room(&name, index, Some(newest));
            } else {
                self.request(
                    Request::Join {
                        room: name,
                        key: room_key.clone(),
                    },
                    Pending::Join {
                        room: key.clone(),
                        origin: key,
                        switch: false,
                        rejoin: Some(newest),
                        key: room_key,
                        page: Page::default(),
                    },
                );
            }
        }
        for name in &w.rooms {
            if self.window_index(&WindowKey::room(name)).is_none() {
                self.request(
                    Request::Part { room: name.clone() },
                    Pending::Part {
                        origin: WindowKey::Status,
                        quiet: true,
                    },
                );
            }
        }
    }

    /// For a room the login put us in: its members, and its recent history
    /// (after a reconnect: back to `rejoin`'s newest message).
    fn refresh_room(&mut self, name: &str, index: usize, rejoin: Option<Option<u64>>) {
        let origin = self.windows[index].key().clone();
        self.request(
            Request::Who {
                room: name.to_owned(),
            },
            Pending::Reply {
                origin: origin.clone(),
                quiet: true,
            },
        );
        let purpose = match rejoin {
            Some(Some(newest)) => Purpose::Gap {
                stop_at: newest,
                pages: 1,
            },
            _ => Purpose::Initial,
        };
        let limit = match purpose {
            Purpose::Gap { .. } => HISTORY_PAGE,
            _ => chatroom_proto::json::DEFAULT_HISTORY_LIMIT,
        };
        self.request(
            Request::History {
                room: name.to_owned(),
                before: None,
                limit,
            },
            Pending::History {
                window: WindowKey::room(name),
                origin,
                purpose,
                page: Page::default(),
            },
        );
    }

    /// Records a history message in the page being received for its room;
    /// returns whether it is news (missed while away) rather than old history.
    fn track_page(&mut self, room_name: &str, msg_id: u64) -> bool {
        let key = WindowKey::room(room_name);
        let open = self.pending.values_mut().find(|p| match p {
            Pending::Join { room, .. } => *room == key,
            Pending::History { window, .. } => *window == key,
            _ => false,
        });
        match open {
            Some(Pending::Join { page, rejoin, .. }) => {
                page.oldest = Some(page.oldest.map_or(msg_id, |o| o.min(msg_id)));
                matches!(rejoin, Some(Some(newest)) if msg_id > *newest)
            }
            Some(Pending::History { page, purpose, .. }) => {
                page.oldest = Some(page.oldest.map_or(msg_id, |o| o.min(msg_id)));
                matches!(purpose, Purpose::Gap { stop_at, .. } if msg_id > *stop_at)
            }
            _ => false,
        }
    }

    fn on_message(&mut self, m: ChatMessage) {
        let news = if m.history {
            self.track_page(&m.room, m.msg_id)
        } else {
            true
        };
        if self.ignores(&m.sender_nickname) {
            return;
        }
        let Some(index) = self.window_index(&WindowKey::room(&m.room)) else {
            tracing::debug!(room = %m.room, "message for a room without a window");
            return;
        };
        let own = self
            .me
            .as_ref()
            .is_some_and(|me| me.id == m.sender_id && m.sender_id != 0);
        let mention = !own && self.mentions_me(&m.message);
        let line = Line {
            ts: m.ts,
            msg_id: Some(m.msg_id),
            kind: LineKind::Message {
                nick: m.sender_nickname,
                text: m.message,
                action: m.action,
                own,
            },
            mention,
        };
        self.add_message(index, m.msg_id, line, news);
    }

    fn on_direct(&mut self, d: DirectMessage) {
        // Stored messages of an earlier session (the account's) have
        // another user id: the nickname says whose they are.
        let own = self.me.as_ref().is_some_and(|me| {
            me.id == d.sender_id
                || (d.history && nick::fold(&me.nick) == nick::fold(&d.sender_nickname))
        });
        if !own && self.ignores(&d.sender_nickname) {
            return;
        }
        let peer = if own {
            &d.to_nickname
        } else {
            &d.sender_nickname
        };
        let index = self.ensure_window(WindowKey::query(peer), peer);
        let line = Line {
            ts: d.ts,
            msg_id: Some(d.msg_id),
            kind: LineKind::Message {
                nick: d.sender_nickname.clone(),
                text: d.message,
                action: d.action,
                own,
            },
            mention: !own && !d.history,
        };
        self.add_message(index, d.msg_id, line, !d.history);
    }

    fn on_presence(&mut self, p: Presence) {
        let who = p.nickname.as_str();
        match (p.event, p.room.as_deref()) {
            (PresenceEvent::Join, Some(name)) => {
                if let Some(index) = self.window_index(&WindowKey::room(name)) {
                    self.windows[index].add_member(p.user_id, who);
                    self.note(index, LineKind::Notice(format!("{who} joined #{name}")));
                }
            }
            (PresenceEvent::Leave, Some(name)) => {
                let why = match p.reason.as_deref() {
                    Some(reason) if reason != "part" => format!(" ({reason})"),
                    _ => String::new(),
                };
                let mine = self.me.as_ref().is_some_and(|me| me.id == p.user_id);
                if let Some(index) = self.window_index(&WindowKey::room(name)) {
                    if mine {
                        // Put out (a kick): the window goes, as after /part.
                        self.remove_window(index);
                        let text =
                            format!("you are no longer in #{name}{why}; /join {name} to go back");
                        self.note(0, LineKind::Notice(text.clone()));
                        if self.current != 0 {
                            self.note_here(LineKind::Notice(text));
                        }
                    } else {
                        self.windows[index].remove_member(who);
                        self.note(index, LineKind::Notice(format!("{who} left #{name}{why}")));
                    }
                }
            }
            (PresenceEvent::Leave, None) => {
                let reason = p.reason.as_deref().unwrap_or("quit");
                for index in 0..self.windows.len() {
                    if self.windows[index].remove_member(who) {
                        self.note(index, LineKind::Notice(format!("{who} quit ({reason})")));
                    }
                }
                if let Some(index) = self.window_index(&WindowKey::query(who)) {
                    self.note(
                        index,
                        LineKind::Notice(format!("{who} went offline ({reason})")),
                    );
                }
            }
            (PresenceEvent::Nick, _) => {
                let old = p.old_nickname.clone().unwrap_or_default();
                let text = format!("{old} is now known as {who}");
                for index in 0..self.windows.len() {
                    if self.windows[index].rename_member(&old, p.user_id, who) {
                        self.note(index, LineKind::Notice(text.clone()));
                    }
                }
                if let Some(index) = self.window_index(&WindowKey::query(&old))
                    && (nick::fold(&old) == nick::fold(who)
                        || self.window_index(&WindowKey::query(who)).is_none())
                {
                    self.windows[index].rename_query(who);
                    self.note(index, LineKind::Notice(text));
                }
            }
            (PresenceEvent::Topic, Some(name)) => {
                if let Some(index) = self.window_index(&WindowKey::room(name)) {
                    let topic = p.topic.clone().unwrap_or_default();
                    let text = if topic.is_empty() {
                        format!("{who} cleared the topic of #{name}")
                    } else {
                        format!("{who} changed the topic of #{name} to: {topic}")
                    };
                    self.windows[index].topic = topic;
                    self.note(index, LineKind::Notice(text));
                }
            }
            (PresenceEvent::Mode, Some(name)) => {
                if let Some(index) = self.window_index(&WindowKey::room(name)) {
                    let text = match &p.mode {
                        Some(m) => {
                            for (nick, rank, on) in moderation::rank_changes(&m.modes, &m.args) {
                                self.windows[index].set_rank(&nick, rank, on);
                            }
                            moderation::describe(who, &m.modes, &m.args)
                        }
                        None => p.message.clone(),
                    };
                    self.note(index, LineKind::Notice(text));
                }
            }
            (PresenceEvent::Invite, Some(name)) => {
                let text = format!("{who} invites you into #{name}: /join {name} to go in");
                self.note(0, LineKind::Notice(text.clone()));
                if self.current != 0 {
                    self.note_here(LineKind::Notice(text));
                }
            }
            (PresenceEvent::Summary, Some(name)) => {
                if let Some(index) = self.window_index(&WindowKey::room(name)) {
                    if let Some(summary) = &p.summary {
                        self.windows[index].apply_summary(summary);
                    }
                    self.note(index, LineKind::Notice(p.message.clone()));
                }
            }
            (PresenceEvent::Away | PresenceEvent::Back, _) => {
                // The member lists change; only a conversation with them
                // says so, as IRC clients do.
                let away = p.event == PresenceEvent::Away;
                for window in &mut self.windows {
                    window.set_away(who, away);
                }
                if let Some(index) = self.window_index(&WindowKey::query(who)) {
                    let text = match &p.away {
                        Some(message) if away => format!("{who} is away: {message}"),
                        _ if away => format!("{who} is away"),
                        _ => format!("{who} is back"),
                    };
                    self.note(index, LineKind::Notice(text));
                }
            }
            (event, None) => tracing::debug!(?event, "presence without a room"),
        }
    }

    fn on_joined(&mut self, j: Joined) {
        let reference = j.reference.as_ref().and_then(|r| match r {
            Ref::Number(n) => n.as_u64(),
            Ref::Text(_) => None,
        });
        let (switch, rejoin, room_key) = match reference.and_then(|r| self.pending.get(&r)) {
            Some(Pending::Join {
                switch,
                rejoin,
                key,
                ..
            }) => (*switch, rejoin.is_some(), key.clone()),
            _ => (false, false, None),
        };
        let index = self.ensure_window(WindowKey::room(&j.room), &j.room);
        let window = &mut self.windows[index];
        window.name = j.room.clone();
        window.topic = j.topic.clone();
        window.set_members(&j.members);
        window.join_key = room_key;
        if rejoin {
            self.note(index, LineKind::Notice(format!("rejoined #{}", j.room)));
            return;
        }
        let mut text = format!("you joined #{} ({} here)", j.room, j.members.len());
        if !j.topic.is_empty() {
            text.push_str(&format!("; topic: {}", j.topic));
        }
        self.note(index, LineKind::Notice(text));
        if switch {
            self.switch_to(index);
        }
    }

    fn on_history_end(&mut self, h: HistoryEnd) {
        let Some(pending) = self.take_pending(h.reference.as_ref()) else {
            return;
        };
        let key = match &h.with {
            Some(peer) => WindowKey::query(peer),
            None => WindowKey::room(&h.room),
        };
        let Some(index) = self.window_index(&key) else {
            return;
        };
        let older = if h.has_more {
            Older::More
        } else {
            Older::Exhausted
        };
        match pending {
            Pending::Join {
                rejoin: Some(Some(newest)),
                page,
                ..
            } => self.continue_gap(index, newest, page, h.has_more, 0),
            Pending::Join { .. } => self.windows[index].older = older,
            Pending::History { purpose, page, .. } => match purpose {
                Purpose::Initial => self.windows[index].older = older,
                Purpose::Older { announce } => {
                    let window = &mut self.windows[index];
                    window.fetching_older = false;
                    window.older = older;
                    if announce {
                        let more = if h.has_more {
                            ""
                        } else {
                            "; that is all there is"
                        };
                        self.note(
                            index,
                            LineKind::Info(format!(
                                "{} older message(s) loaded above (PageUp){more}",
                                h.count
                            )),
                        );
                    }
                }
                Purpose::Gap { stop_at, pages } => {
                    self.continue_gap(index, stop_at, page, h.has_more, pages)
                }
            },
            _ => {}
        }
    }

    /// After a page of missed history: ask for the next one unless the page
    /// reached back to `stop_at` (or the room's beginning).
    fn continue_gap(&mut self, index: usize, stop_at: u64, page: Page, has_more: bool, pages: u32) {
        let Some(oldest) = page.oldest else {
            return;
        };
        if oldest <= stop_at.saturating_add(1) || !has_more {
            return;
        }
        let name = self.windows[index].name.clone();
        if pages >= MAX_GAP_PAGES {
            self.note(
                index,
                LineKind::Error(format!(
                    "more than {} messages were missed in #{name}; the older ones are not shown",
                    MAX_GAP_PAGES * HISTORY_PAGE
                )),
            );
            return;
        }
        let origin = self.windows[index].key().clone();
        self.request(
            Request::History {
                room: name.clone(),
                before: Some(oldest),
                limit: HISTORY_PAGE,
            },
            Pending::History {
                window: WindowKey::room(&name),
                origin,
                purpose: Purpose::Gap {
                    stop_at,
                    pages: pages + 1,
                },
                page: Page::default(),
            },
        );
    }

    /// Where to show the answer to a moderation request: where it was
    /// asked, else the window shown. The first answer settles the request
    /// (one that asks for several lists and changes gets the rest in the
    /// window shown).
    fn moderation_window(&mut self, reference: Option<&Ref>) -> usize {
        match self.take_pending(reference) {
            Some(Pending::Moderation { origin, .. }) => self.index_or_status(&origin),
            _ => self.current,
        }
    }

    /// Where to show the answer to a request (`None`: nowhere, it was quiet).
    fn reply_window(&mut self, reference: Option<&Ref>) -> Option<usize> {
        match self.take_pending(reference) {
            Some(Pending::Reply { quiet: true, .. }) => None,
            Some(Pending::Reply { origin, .. }) => Some(self.index_or_status(&origin)),
            _ => Some(self.current),
        }
    }

    /// The people of earlier conversations: a window each (unless one is
    /// open or they are ignored), filled with their recent messages.
    fn on_conversations(&mut self, list: ConversationList) {
        self.take_pending(list.reference.as_ref());
        // Only people: the list has rooms only when asked for them.
        let people = list.conversations.into_iter().rev();
        for nickname in people.filter_map(|peer| peer.nickname) {
            let key = WindowKey::query(&nickname);
            if self.window_index(&key).is_some() || self.ignores(&nickname) {
                continue;
            }
            let index = self.ensure_window(key.clone(), &nickname);
            self.windows[index].fetching_older = true;
            self.request(
                Request::DirectHistory {
                    with: nickname,
                    before: None,
                    limit: chatroom_proto::json::DEFAULT_HISTORY_LIMIT,
                },
                Pending::History {
                    window: key.clone(),
                    origin: key,
                    purpose: Purpose::Older { announce: false },
                    page: Page::default(),
                },
            );
        }
    }

    fn on_search_hit(&mut self, hit: SearchHit) {
        let number = match &hit.reference {
            Some(Ref::Number(n)) => n.as_u64(),
            _ => None,
        };
        let when = hhmm(hit.ts, self.offset);
        let place = match (&hit.room, &hit.to_nickname) {
            (Some(room), _) => format!("#{room} "),
            (None, Some(to)) => format!("(to {to}) "),
            (None, None) => String::new(),
        };
        let line = format!(
            "{when} {place}<{}> {}",
            hit.sender_nickname,
            preview(&hit.message)
        );
        if let Some(Pending::Search { hits, .. }) = number.and_then(|n| self.pending.get_mut(&n)) {
            hits.push(line);
        }
    }

    fn on_search_end(&mut self, end: SearchEnd) {
        let Some(Pending::Search { origin, text, hits }) =
            self.take_pending(end.reference.as_ref())
        else {
            return;
        };
        let index = self.index_or_status(&origin);
        let mut note = if hits.is_empty() {
            format!("nothing found for \"{text}\"")
        } else {
            format!("{} result(s) for \"{text}\", best first:", hits.len())
        };
        for hit in &hits {
            note.push_str(&format!("\n  {hit}"));
        }
        if end.next.is_some() {
            note.push_str(&format!("\n  (more: /search {text} again)"));
        }
        self.last_search = Some(super::LastSearch {
            text,
            origin,
            next: end.next,
        });
        self.note(index, LineKind::Info(note));
    }

    fn on_whois(&mut self, w: WhoisInfo) {
        let Some(index) = self.reply_window(w.reference.as_ref()) else {
            return;
        };
        let rooms: Vec<String> = w.rooms.iter().map(|r| format!("#{r}")).collect();
        let mut text = format!(
            "{} (id {}): online since {}, in {}",
            w.nickname,
            w.id,
            hhmm(w.since, self.offset),
            rooms.join(" ")
        );
        if let Some(account) = &w.account {
            text.push_str(&format!("; account {account}"));
        }
        if w.operator {
            text.push_str("; operator");
        }
        if let Some(away) = &w.away {
            text.push_str(&format!("; away: {away}"));
        }
        self.note(index, LineKind::Info(text));
    }

    fn on_room_list(&mut self, list: RoomList) {
        let Some(index) = self.reply_window(list.reference.as_ref()) else {
            return;
        };
        let mut text = format!("{} room(s):", list.rooms.len());
        for r in &list.rooms {
            text.push_str(&format!("\n  #{} ({})", r.name, r.members));
            if !r.topic.is_empty() {
                text.push_str(&format!(" {}", r.topic));
            }
        }
        self.note(index, LineKind::Info(text));
    }

    fn on_member_list(&mut self, list: MemberList) {
        let shown = self.reply_window(list.reference.as_ref());
        if let Some(room_index) = self.window_index(&WindowKey::room(&list.room)) {
            let window = &mut self.windows[room_index];
            window.set_members(&list.members);
        }
        if let Some(index) = shown {
            let mut members: Vec<&MemberInfo> = list.members.iter().collect();
            members.sort_by_key(|m| {
                (
                    moderation::rank_order(m.operator, m.voice),
                    nick::fold(&m.nickname),
                )
            });
            let names: Vec<String> = members
                .iter()
                .map(|m| format!("{}{}", moderation::prefix(m.operator, m.voice), m.nickname))
                .collect();
            let text = format!("{} in #{}: {}", names.len(), list.room, names.join(" "));
            self.note(index, LineKind::Info(text));
        }
    }

    fn on_topic(&mut self, t: TopicInfo) {
        let shown = self.reply_window(t.reference.as_ref());
        if let Some(room_index) = self.window_index(&WindowKey::room(&t.room)) {
            self.windows[room_index].topic = t.topic.clone();
        }
        let Some(index) = shown else {
            return;
        };
        let text = if t.topic.is_empty() {
            format!("#{} has no topic", t.room)
        } else {
            let by = match (&t.set_by, t.ts) {
                (Some(who), Some(ts)) => format!(" (set by {who} at {})", hhmm(ts, self.offset)),
                _ => String::new(),
            };
            format!("topic of #{}: {}{by}", t.room, t.topic)
        };
        self.note(index, LineKind::Info(text));
    }

    fn on_renamed(&mut self, r: Renamed) {
        let shown = self.reply_window(r.reference.as_ref());
        let id = self.me.as_ref().map_or(0, |me| me.id);
        for window in &mut self.windows {
            window.rename_member(&r.old_nickname, id, &r.nickname);
        }
        if let Some(me) = &mut self.me {
            me.nick = r.nickname.clone();
        }
        self.wanted_nick = Some(r.nickname.clone());
        let text = format!("you are now known as {}", r.nickname);
        self.note(0, LineKind::Notice(text.clone()));
        if let Some(index) = shown.filter(|&i| i != 0) {
            self.note(index, LineKind::Notice(text));
        }
    }

    fn on_ack(&mut self, a: Ack) {
        let Some(me) = self.me.clone() else {
            return;
        };
        let (index, text, action) = match self.take_pending(a.reference.as_ref()) {
            Some(Pending::Say {
                window,
                text,
                action,
            }) => match self.window_index(&window) {
                Some(index) => (index, text, action),
                None => return,
            },
            Some(Pending::Direct {
                peer, text, action, ..
            }) => (
                self.ensure_window(WindowKey::query(&peer), &peer),
                text,
                action,
            ),
            _ => return,
        };
        let line = Line {
            ts: a.ts,
            msg_id: Some(a.msg_id),
            kind: LineKind::Message {
                nick: me.nick,
                text,
                action,
                own: true,
            },
            mention: false,
        };
        self.add_message(index, a.msg_id, line, false);
    }

    fn on_error(&mut self, e: ErrorFrame) {
        let pending = self.take_pending(e.reference.as_ref());
        let mut text = format!("{} ({})", e.message, e.code.as_str());
        if let Some(hint) = moderation::hint(e.code) {
            text.push_str(&format!("; {hint}"));
        }
        match pending {
            Some(Pending::Login) => self.on_login_refused(e.code, &text),
            Some(Pending::Say {
                window, text: said, ..
            }) => {
                let index = self.index_or_status(&window);
                let said = preview(&said);
                self.note(index, LineKind::Error(format!("not sent: {text}: {said}")));
            }
            Some(Pending::Direct {
                origin, text: said, ..
            }) => {
                let index = self.index_or_status(&origin);
                let said = preview(&said);
                self.note(index, LineKind::Error(format!("not sent: {text}: {said}")));
            }
            Some(Pending::History {
                origin, purpose, ..
            }) => {
                let index = self.index_or_status(&origin);
                if matches!(purpose, Purpose::Older { .. }) {
                    self.windows[index].fetching_older = false;
                }
                self.note(index, LineKind::Error(text));
            }
            Some(
                Pending::Join { origin, .. }
                | Pending::Part { origin, .. }
                | Pending::Reply { origin, .. }
                | Pending::Away { origin, .. }
                | Pending::Moderation { origin, .. }
                | Pending::Search { origin, .. },
            ) => {
                let index = self.index_or_status(&origin);
                self.note(index, LineKind::Error(text));
            }
            // A server without `conversations` (older versions): nothing
            // to bring back.
            Some(Pending::Conversations) => {
                tracing::debug!(%text, "no conversations to bring back")
            }
            None => self.error_here(text),
        }
    }

    /// The login was refused: a taken nickname gets a `_` and another try
    /// (the old session may linger after a reconnect); an invalid one sends
    /// the user back to the nickname prompt.
    fn on_login_refused(&mut self, code: ErrorCode, text: &str) {
        self.login = Login::Idle;
        let wanted = self.wanted_nick.clone().unwrap_or_default();
        if code == ErrorCode::NicknameTaken && wanted.chars().count() < MAX_NICK_CHARS {
            let next = format!("{wanted}_");
            self.note(
                0,
                LineKind::Notice(format!("the nickname {wanted} is taken; trying {next}")),
            );
            self.wanted_nick = Some(next);
            self.send_login();
            return;
        }
        self.note(0, LineKind::Error(format!("login refused: {text}")));
        if self.current != 0 {
            self.note_here(LineKind::Error(format!("login refused: {text}")));
        }
        if code == ErrorCode::NoAccount {
            // The password belongs to no account: the next login goes
            // without it, so the user can get in and /register.
            self.password = None;
            let hint = format!(
                "{wanted} has no account: log in as {wanted} without a password, then /register PASSWORD"
            );
            self.note(0, LineKind::Notice(hint.clone()));
            if self.current != 0 {
                self.note_here(LineKind::Notice(hint));
            }
        }
        self.wanted_nick = None;
        self.note(0, LineKind::Notice(CHOOSE_NICK.into()));
        if self.current != 0 {
            self.note_here(LineKind::Notice(CHOOSE_NICK.into()));
        }
    }
}

/// The most characters of a message quoted back in a notice about it.
const PREVIEW_CHARS: usize = 40;

/// The start of a message, to name it in one short line: its first line, at
/// most [`PREVIEW_CHARS`] characters, with `…` when there is more.
pub(super) fn preview(text: &str) -> String {
    let first = text.lines().next().unwrap_or("");
    let mut out: String = first.chars().take(PREVIEW_CHARS).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}
