//! IRCv3 `draft/chathistory`: a client asks for a channel's or a
//! conversation's stored messages around a point (`LATEST`, `BEFORE`,
//! `AFTER`, `AROUND`, `BETWEEN`), by message id or time, and gets them in a
//! `chathistory` batch, from the same store as the replay on join and the
//! JSON `history` request; or (`TARGETS`) which channels and conversations
//! had their latest message between two times, in a
//! `draft/chathistory-targets` batch, as the JSON `conversations` request.

use bytes::Bytes;
use chatroom_proto::irc::{Message, Source, channel};
use chatroom_proto::nick;
use tracing::warn;

use super::IrcSession;
use super::caps::BATCH;
use super::events::irc_time;
use crate::hub::Client;
use crate::store::{ConversationQuery, Counterpart, Span, StoredMessage};

/// The most messages one request returns (ISUPPORT `CHATHISTORY`).
pub const MAX_LIMIT: u32 = 100;

/// A point in history: a message, or a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Point {
    /// `msgid=...`.
    Id(u64),
    /// `timestamp=2026-12-06T12:00:00.000Z`, in ms since the epoch.
    Time(i64),
}

impl Point {
    /// Reads `msgid=...` or `timestamp=...`.
    fn parse(text: &str) -> Option<Point> {
        if let Some(id) = text.strip_prefix("msgid=") {
            return id.parse().ok().map(Point::Id);
        }
        let stamp = text.strip_prefix("timestamp=")?;
        chrono::DateTime::parse_from_rfc3339(stamp)
            .ok()
            .map(|t| Point::Time(t.timestamp_millis()))
    }

    /// The span of messages after this point.
    fn after(self, span: Span) -> Span {
        match self {
            Point::Id(id) => Span {
                after_id: Some(id),
                ..span
            },
            Point::Time(ts) => Span {
                after_ts: Some(ts),
                ..span
            },
        }
    }

    /// The span of messages before this point.
    fn before(self, span: Span) -> Span {
        match self {
            Point::Id(id) => Span {
                before_id: Some(id),
                ..span
            },
            Point::Time(ts) => Span {
                before_ts: Some(ts),
                ..span
            },
        }
    }
}

/// Whose messages: a room's (by key) or a conversation's (by folded
/// nickname).
enum Target {
    Room(String),
    Conversation(String),
}

impl IrcSession {
    /// `CHATHISTORY <subcommand> <target> <point> [<point>] <limit>`.
    pub(super) async fn chathistory(&mut self, args: &[String]) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let sub = args.first().map(|s| s.to_uppercase()).unwrap_or_default();
        if sub == "TARGETS" {
            return self.chathistory_targets(&client, &args[1..]).await;
        }
        let target_name = args.get(1).cloned().unwrap_or_default();
        let points: Vec<&str> = args.iter().skip(2).map(String::as_str).collect();
        let Some((limit, points)) = points.split_last() else {
            return self.chathistory_fail("INVALID_PARAMS", &sub, "Missing parameters");
        };
        let Some(limit) = limit.parse::<u32>().ok().filter(|l| *l > 0) else {
            return self.chathistory_fail("INVALID_PARAMS", &sub, "Bad limit");
        };
        let limit = limit.min(MAX_LIMIT);
        let point = |i: usize| points.get(i).and_then(|p| Point::parse(p));
        let spans: Vec<Span> = match (sub.as_str(), points.len()) {
            ("LATEST", 1) if points[0] == "*" => vec![Span::default()],
            ("LATEST", 1) => match point(0) {
                Some(p) => vec![p.after(Span::default())],
                None => return self.chathistory_fail("INVALID_PARAMS", &sub, "Bad point"),
            },
            ("BEFORE", 1) => match point(0) {
                Some(p) => vec![p.before(Span::default())],
                None => return self.chathistory_fail("INVALID_PARAMS", &sub, "Bad point"),
            },
            ("AFTER", 1) => match point(0) {
                Some(p) => vec![p.after(Span {
                    from_after: true,
                    ..Span::default()
                })],
                None => return self.chathistory_fail("INVALID_PARAMS", &sub, "Bad point"),
            },
            ("AROUND", 1) => match point(0) {
                // Half before, then the point itself and after it.
                Some(p) => vec![
                    p.before(Span::default()),
                    around_from(
                        p,
                        Span {
                            from_after: true,
                            ..Span::default()
                        },
                    ),
                ],
                None => return self.chathistory_fail("INVALID_PARAMS", &sub, "Bad point"),
            },
            ("BETWEEN", 2) => match (point(0), point(1)) {
                (Some(a), Some(b)) if order(a) <= order(b) => vec![b.before(a.after(Span {
                    from_after: true,
                    ..Span::default()
                }))],
                (Some(a), Some(b)) => vec![a.before(b.after(Span::default()))],
                _ => return self.chathistory_fail("INVALID_PARAMS", &sub, "Bad point"),
            },
            ("LATEST" | "BEFORE" | "AFTER" | "AROUND" | "BETWEEN", _) => {
                return self.chathistory_fail("INVALID_PARAMS", &sub, "Wrong number of parameters");
            }
            _ => return self.chathistory_fail("INVALID_PARAMS", &sub, "Unknown subcommand"),
        };
        let target = if channel::is_channel(&target_name) {
            let membership = channel::channel_to_room(&target_name)
                .ok()
                .and_then(|room| self.hub.membership(&client, room).ok());
            match membership {
                Some((key, _)) => Target::Room(key),
                None => {
                    return self.invalid_target(&sub, &target_name, "Not a channel you are in");
                }
            }
        } else if nick::validate(&target_name).is_ok() {
            Target::Conversation(nick::fold(&target_name))
        } else {
            return self.invalid_target(&sub, &target_name, "Not a channel or nickname");
        };
        let Ok(reader) = self.hub.reader(&client) else {
            return;
        };
        let mut messages: Vec<StoredMessage> = Vec::new();
        // AROUND: the point's message and those after it get the larger
        // half (a limit of 1 is the point's message alone).
        let shares = if spans.len() > 1 {
            let before = (limit - 1) / 2;
            vec![before, limit - before]
        } else {
            vec![limit]
        };
        for (span, share) in spans.into_iter().zip(shares) {
            if share == 0 {
                continue;
            }
            let span = self.history_span(span);
            let store = self.hub.store();
            let page = match &target {
                Target::Room(key) => store.history_in(key.clone(), span, share).await,
                Target::Conversation(with) => {
                    store
                        .direct_history_in(reader.clone(), with.clone(), span, share)
                        .await
                }
            };
            match page {
                Ok(page) => messages.extend(page.messages),
                Err(e) => {
                    warn!(peer = %self.peer, error = %e, "history read failed");
                    return self.chathistory_fail(
                        "MESSAGE_ERROR",
                        &sub,
                        "History is unavailable right now",
                    );
                }
            }
        }
        messages.sort_by_key(|m| m.id);
        messages.dedup_by_key(|m| m.id);
        messages.truncate(limit as usize);
        self.send_history(&target_name, &messages);
    }

    /// `CHATHISTORY TARGETS <timestamp> <timestamp> <limit>`: the channels
    /// one is in and the people one exchanged direct messages with whose
    /// latest message falls strictly between the two times, oldest first,
    /// at most `limit` counted from the first time (which may be the later
    /// one, as in `BETWEEN`). Whose conversations are whose is the store's
    /// rule for direct messages (`store::Reader`).
    async fn chathistory_targets(&mut self, client: &Client, args: &[String]) {
        const SUB: &str = "TARGETS";
        let [first, second, limit] = args else {
            return self.chathistory_fail("INVALID_PARAMS", SUB, "Wrong number of parameters");
        };
        let Some(limit) = limit.parse::<u32>().ok().filter(|l| *l > 0) else {
            return self.chathistory_fail("INVALID_PARAMS", SUB, "Bad limit");
        };
        let (Some(Point::Time(first)), Some(Point::Time(second))) =
            (Point::parse(first), Point::parse(second))
        else {
            return self.chathistory_fail("INVALID_PARAMS", SUB, "Bad timestamp");
        };
        let Ok(reader) = self.hub.reader(client) else {
            return;
        };
        let query = ConversationQuery {
            reader,
            after_ts: Some(first.min(second)),
            before_ts: Some(first.max(second)),
            rooms: true,
            limit: limit.min(MAX_LIMIT),
            from_after: first <= second,
        };
        let peers = match self.hub.store().conversations(query).await {
            Ok(peers) => peers,
            Err(e) => {
                warn!(peer = %self.peer, error = %e, "history read failed");
                return self.chathistory_fail(
                    "MESSAGE_ERROR",
                    SUB,
                    "History is unavailable right now",
                );
            }
        };
        let server = Source::server(self.server());
        let batch = self.caps.has(BATCH).then(|| {
            self.batches += 1;
            format!("h{}", self.batches)
        });
        let mut out = Vec::new();
        if let Some(id) = &batch {
            Message::new("BATCH")
                .with_source(server.clone())
                .param(format!("+{id}"))
                .param("draft/chathistory-targets")
                .encode_into(&mut out);
        }
        // Oldest first, as the other subcommands answer.
        for peer in peers.iter().rev() {
            let target = match &peer.with {
                Counterpart::Room { name, .. } => channel::room_to_channel(name),
                Counterpart::Person(nick) => nick.clone(),
            };
            let mut line = Message::new("CHATHISTORY")
                .with_source(server.clone())
                .param(SUB)
                .param(target)
                .param(irc_time(peer.ts));
            if let Some(id) = &batch {
                line = line.with_tag("batch", Some(id));
            }
            line.encode_into(&mut out);
        }
        if let Some(id) = &batch {
            Message::new("BATCH")
                .with_source(server)
                .param(format!("-{id}"))
                .encode_into(&mut out);
        }
        self.out(Bytes::from(out));
    }

    /// `FAIL CHATHISTORY INVALID_TARGET <subcommand> <target> :<text>`.
    fn invalid_target(&self, sub: &str, target: &str, text: &str) {
        let mut m = self.fail("CHATHISTORY", "INVALID_TARGET", Some(sub), text);
        m.params
            .insert(3, chatroom_proto::irc::safe_param(target).to_owned());
        self.send(&m);
    }

    /// `FAIL CHATHISTORY <code> <subcommand> :<text>` (`*` for a missing
    /// subcommand).
    fn chathistory_fail(&self, code: &str, sub: &str, text: &str) {
        self.send(&self.fail("CHATHISTORY", code, Some(sub), text));
    }
}

/// `AROUND`'s second half: the point's own message and those after it.
fn around_from(point: Point, span: Span) -> Span {
    match point {
        Point::Id(id) => Span {
            after_id: Some(id.saturating_sub(1)),
            ..span
        },
        Point::Time(ts) => Span {
            after_ts: Some(ts.saturating_sub(1)),
            ..span
        },
    }
}

/// A point's place in time, to tell which of two comes first (ids and
/// times both increase with time; compared within one kind).
fn order(point: Point) -> i128 {
    match point {
        Point::Id(id) => i128::from(id),
        Point::Time(ts) => i128::from(ts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_ids_or_times() {
        assert_eq!(Point::parse("msgid=42"), Some(Point::Id(42)));
        assert_eq!(
            Point::parse("timestamp=1970-01-01T00:00:01.500Z"),
            Some(Point::Time(1500))
        );
        assert_eq!(Point::parse("msgid=x"), None);
        assert_eq!(Point::parse("timestamp=yesterday"), None);
        assert_eq!(Point::parse("42"), None);
    }
}
