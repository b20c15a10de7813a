//! Windows: the status window, one per joined room and one per direct-message
//! peer, each with its lines, members, topic, unread count and scroll position.
//!
//! Lines are kept ordered by message id, not by arrival: history may arrive
//! after live lines (a join replay, paging back after a reconnect), and a
//! message id seen twice is kept once. Local notices (presence, errors,
//! command output) have no message id; they are placed after the newest
//! message known when they were shown.
//!
//! Message ids are unique only within one server epoch (an in-memory server
//! restarted starts a new one). Each epoch the client meets is an era, and
//! every line key starts with its era: a later era's lines come after an
//! earlier one's, and an id seen in one era never hides a message of another.

use std::collections::BTreeMap;

use chatroom_proto::json::{MemberInfo, PresenceSummary};
use chatroom_proto::modes::Rank;
use chatroom_proto::{nick, room};

use crate::moderation;

/// How many recent speakers a window remembers for completion.
pub const RECENT_SPEAKERS: usize = 50;

/// The most lines one window keeps; older ones are dropped as new ones come.
pub const MAX_LINES: usize = 5000;

/// Which window: the identity that survives renames of its label's spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WindowKey {
    /// The status window: connection notices, server replies with no room.
    Status,
    /// A room, by its case-folded name.
    Room(String),
    /// Direct messages with one peer, by their case-folded nickname.
    Query(String),
}

impl WindowKey {
    /// The key of the room `name`.
    pub fn room(name: &str) -> Self {
        WindowKey::Room(room::fold(name))
    }

    /// The key of the direct-message window with `peer`.
    pub fn query(peer: &str) -> Self {
        WindowKey::Query(nick::fold(peer))
    }
}

/// Where a line sorts in its window: in era `era` (see the module
/// documentation), after message `anchor`, `seq`-th among the local notices
/// placed there (messages themselves have `seq` 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineKey {
    era: u32,
    anchor: u64,
    seq: u64,
}

impl LineKey {
    /// The key of the message with id `msg_id` in era `era`.
    pub fn message(era: u32, msg_id: u64) -> Self {
        LineKey {
            era,
            anchor: msg_id,
            seq: 0,
        }
    }

    /// The key of a local notice shown after message `anchor` of era
    /// `era`; `seq` must be positive and unique.
    pub fn notice(era: u32, anchor: u64, seq: u64) -> Self {
        LineKey { era, anchor, seq }
    }

    /// The first key of era `era`.
    fn era_start(era: u32) -> Self {
        LineKey {
            era,
            anchor: 0,
            seq: 0,
        }
    }
}

/// What a line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// Something a user said.
    Message {
        /// Their nickname when they said it.
        nick: String,
        /// The text (may contain newlines).
        text: String,
        /// A `/me` action.
        action: bool,
        /// Said by this client's user.
        own: bool,
    },
    /// An event: someone joined, left, renamed, set a topic; connection news.
    Notice(String),
    /// Output of a command (help, room lists, member lists).
    Info(String),
    /// Something went wrong (a refused request, a lost message).
    Error(String),
}

/// One line of a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// When, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// The server's message id, for messages.
    pub msg_id: Option<u64>,
    /// What it says.
    pub kind: LineKind,
    /// It mentions this client's user (their nickname, or a direct message).
    pub mention: bool,
}

impl Line {
    /// The line as plain text, as a person reads it (for tests and logs):
    /// `<nick> text`, `* nick text`, or the notice itself.
    pub fn text(&self) -> String {
        match &self.kind {
            LineKind::Message {
                nick, text, action, ..
            } if *action => format!("* {nick} {text}"),
            LineKind::Message { nick, text, .. } => format!("<{nick}> {text}"),
            LineKind::Notice(text) | LineKind::Info(text) | LineKind::Error(text) => text.clone(),
        }
    }
}

/// A member of a room, as the member list shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Their user id.
    pub id: u64,
    /// Their nickname.
    pub nick: String,
    /// One of the room's operators (`@`).
    pub operator: bool,
    /// Has voice in the room (`+`).
    pub voice: bool,
    /// Away (the member list shows them dimmed).
    pub away: bool,
}

impl Member {
    /// `@` for an operator, `+` for voice, none otherwise.
    pub fn prefix(&self) -> &'static str {
        moderation::prefix(self.operator, self.voice)
    }
}

/// How much happened in a window since it was last looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Activity {
    /// Nothing.
    #[default]
    None,
    /// Joins, leaves and other notices.
    Events,
    /// Messages.
    Messages,
    /// A message that mentions the user, or a direct message.
    Mention,
}

/// Whether the server has messages older than the oldest one shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Older {
    /// Not asked yet.
    #[default]
    Unknown,
    /// It has; scrolling to the top fetches them.
    More,
    /// It has not.
    Exhausted,
}

/// One window.
#[derive(Debug, Clone)]
pub struct Window {
    key: WindowKey,
    /// The name as shown: the room's or peer's spelling, or "status".
    pub name: String,
    /// The room's topic (empty when none).
    pub topic: String,
    /// Room members by case-folded nickname. In a large room, where the
    /// server summarises joins and leaves, only the listed ones are known.
    pub members: BTreeMap<String, Member>,
    /// How many are in the room according to the latest presence summary,
    /// when that is newer than the full member list.
    population: Option<u32>,
    lines: BTreeMap<LineKey, Line>,
    /// Messages that arrived while another window was shown.
    pub unread: u32,
    /// The most important thing that happened while another window was shown.
    pub activity: Activity,
    /// How many screen rows the view is scrolled up from the newest line.
    pub scroll: usize,
    /// Lines arrived below the view while it was scrolled up.
    pub more_below: bool,
    /// Whether older history exists on the server.
    pub older: Older,
    /// The key this room was joined with (`/join ROOM KEY`), given again
    /// when rejoining after a reconnect.
    pub join_key: Option<String>,
    /// A request for older history is on its way.
    pub fetching_older: bool,
    /// Who spoke here lately, the most recent first (folded nicknames,
    /// at most [`RECENT_SPEAKERS`]): Tab offers them first.
    speakers: Vec<String>,
    /// The last line shown when the user last left this window: the
    /// unread marker goes after it once newer lines follow.
    marker: Option<LineKey>,
}

impl Window {
    /// An empty window.
    pub fn new(key: WindowKey, name: &str) -> Self {
        Window {
            key,
            name: name.to_owned(),
            topic: String::new(),
            members: BTreeMap::new(),
            population: None,
            lines: BTreeMap::new(),
            unread: 0,
            activity: Activity::None,
            scroll: 0,
            more_below: false,
            older: Older::Unknown,
            join_key: None,
            fetching_older: false,
            marker: None,
            speakers: Vec::new(),
        }
    }

    /// Which window this is.
    pub fn key(&self) -> &WindowKey {
        &self.key
    }

    /// Renames a direct-message window when the peer changes nickname.
    pub fn rename_query(&mut self, new_nick: &str) {
        self.key = WindowKey::query(new_nick);
        self.name = new_nick.to_owned();
    }

    /// Whether this is a room's window.
    pub fn is_room(&self) -> bool {
        matches!(self.key, WindowKey::Room(_))
    }

    /// The label in the window list: `#room`, the peer's nickname, or `(status)`.
    pub fn label(&self) -> String {
        match self.key {
            WindowKey::Status => "(status)".to_owned(),
            WindowKey::Room(_) => format!("#{}", self.name),
            WindowKey::Query(_) => self.name.clone(),
        }
    }

    /// The lines, oldest first.
    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &Line> + ExactSizeIterator {
        self.lines.values()
    }

    /// The lines, oldest first, each with whether the unread marker goes
    /// right after it (after the line last seen, when newer ones follow).
    pub fn lines_marked(&self) -> impl DoubleEndedIterator<Item = (&Line, bool)> {
        let last = self.lines.last_key_value().map(|(key, _)| *key);
        let marker = self.marker.filter(|m| Some(*m) != last);
        self.lines
            .iter()
            .map(move |(key, line)| (line, Some(*key) == marker))
    }

    /// Notes that `nick` just spoke here.
    pub fn spoke(&mut self, nick: &str) {
        let folded = nick::fold(nick);
        self.speakers.retain(|s| *s != folded);
        self.speakers.insert(0, folded);
        self.speakers.truncate(RECENT_SPEAKERS);
    }

    /// The members' nicknames in the order Tab offers them: those who
    /// spoke lately, most recent first, then the others by name.
    pub fn nicks_by_recency(&self) -> Vec<String> {
        let mut nicks: Vec<String> = self
            .speakers
            .iter()
            .filter_map(|folded| self.members.get(folded))
            .map(|m| m.nick.clone())
            .collect();
        nicks.extend(
            self.members
                .iter()
                .filter(|(folded, _)| !self.speakers.contains(folded))
                .map(|(_, m)| m.nick.clone()),
        );
        nicks
    }

    /// Puts the unread marker after the newest line (the user leaves the
    /// window having seen everything in it).
    pub fn set_marker(&mut self) {
        self.marker = self.lines.last_key_value().map(|(key, _)| *key);
    }

    /// The number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the window has no lines.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The lines of era `era`, oldest first.
    fn era_lines(&self, era: u32) -> impl DoubleEndedIterator<Item = &Line> {
        let end = match era.checked_add(1) {
            Some(next) => std::ops::Bound::Excluded(LineKey::era_start(next)),
            None => std::ops::Bound::Unbounded,
        };
        self.lines
            .range((std::ops::Bound::Included(LineKey::era_start(era)), end))
            .map(|(_, line)| line)
    }

    /// The highest message id shown here from era `era`.
    pub fn newest_msg_id(&self, era: u32) -> Option<u64> {
        self.era_lines(era).rev().find_map(|l| l.msg_id)
    }

    /// The lowest message id shown here from era `era`.
    pub fn oldest_msg_id(&self, era: u32) -> Option<u64> {
        self.era_lines(era).find_map(|l| l.msg_id)
    }

    /// Adds a line where `key` sorts and says where it went; `None` (and
    /// nothing changes) when a line with that key is already there: a message
    /// seen twice.
    pub fn insert(&mut self, key: LineKey, line: Line) -> Option<Placed> {
        if self.lines.contains_key(&key) {
            return None;
        }
        let at_end = self
            .lines
            .last_key_value()
            .is_none_or(|(last, _)| *last < key);
        self.lines.insert(key, line);
        if self.lines.len() > MAX_LINES {
            self.lines.pop_first();
        }
        Some(if at_end { Placed::End } else { Placed::Inside })
    }

    /// Removes every line (`/clear`): the window starts empty, and
    /// scrolling up does not fetch them back (`/history` does).
    pub fn clear(&mut self) {
        self.lines.clear();
        self.scroll = 0;
        self.more_below = false;
        self.older = Older::Exhausted;
    }

    /// Marks everything as seen.
    pub fn mark_seen(&mut self) {
        self.unread = 0;
        self.activity = Activity::None;
    }

    /// Adds or replaces a member (with no rank: a newcomer).
    pub fn add_member(&mut self, id: u64, nick: &str) {
        self.insert_member(Member {
            id,
            nick: nick.to_owned(),
            operator: false,
            voice: false,
            away: false,
        });
    }

    fn insert_member(&mut self, member: Member) {
        if self
            .members
            .insert(nick::fold(&member.nick), member)
            .is_none()
            && let Some(count) = &mut self.population
        {
            *count = count.saturating_add(1);
        }
    }

    /// Removes a member; returns whether they were there.
    pub fn remove_member(&mut self, nick: &str) -> bool {
        let removed = self.members.remove(&nick::fold(nick)).is_some();
        if removed && let Some(count) = &mut self.population {
            *count = count.saturating_sub(1);
        }
        removed
    }

    /// A member renamed (keeping their rank); returns whether they were
    /// here.
    pub fn rename_member(&mut self, old: &str, id: u64, new: &str) -> bool {
        match self.members.remove(&nick::fold(old)) {
            Some(member) => {
                self.members.insert(
                    nick::fold(new),
                    Member {
                        id,
                        nick: new.to_owned(),
                        ..member
                    },
                );
                true
            }
            None => false,
        }
    }

    /// Gives (`on`) or takes a member's rank; returns whether they are here.
    pub fn set_rank(&mut self, nick: &str, rank: Rank, on: bool) -> bool {
        let Some(member) = self.members.get_mut(&nick::fold(nick)) else {
            return false;
        };
        match rank {
            Rank::Operator => member.operator = on,
            Rank::Voice => member.voice = on,
        }
        true
    }

    /// Marks a member away (`away`) or back; returns whether they are
    /// here.
    pub fn set_away(&mut self, nick: &str, away: bool) -> bool {
        let Some(member) = self.members.get_mut(&nick::fold(nick)) else {
            return false;
        };
        member.away = away;
        true
    }

    /// Replaces the members with a full list from the server.
    pub fn set_members<'a>(&mut self, members: impl IntoIterator<Item = &'a MemberInfo>) {
        self.members.clear();
        self.population = None;
        for m in members {
            self.insert_member(Member {
                id: m.id,
                nick: m.nickname.clone(),
                operator: m.operator,
                voice: m.voice,
                away: m.away.is_some(),
            });
        }
    }

    /// The members as the member list shows them: operators, then voiced
    /// members, then the others, each by name.
    pub fn members_ranked(&self) -> Vec<&Member> {
        let mut members: Vec<&Member> = self.members.values().collect();
        members.sort_by_key(|m| moderation::rank_order(m.operator, m.voice));
        members
    }

    /// Applies a presence summary: the listed comings and goings, and the
    /// server's head count (the list may now be incomplete).
    pub fn apply_summary(&mut self, summary: &PresenceSummary) {
        for user in &summary.left_users {
            self.remove_member(&user.nickname);
        }
        for user in &summary.joined_users {
            self.add_member(user.id, &user.nickname);
        }
        self.population = Some(summary.members);
    }

    /// How many are in the room: the server's latest count when a summary
    /// gave one, else the members known.
    pub fn head_count(&self) -> usize {
        self.population.map_or(self.members.len(), |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        })
    }

    /// Whether `nick` is a member.
    pub fn has_member(&self, nick: &str) -> bool {
        self.members.contains_key(&nick::fold(nick))
    }
}

/// Where [`Window::insert`] put a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// Below every other line: the newest.
    End,
    /// Between older and newer lines (history).
    Inside,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: u64, text: &str) -> Line {
        Line {
            ts: 0,
            msg_id: Some(id),
            kind: LineKind::Message {
                nick: "bob".into(),
                text: text.into(),
                action: false,
                own: false,
            },
            mention: false,
        }
    }

    #[test]
    fn lines_sort_by_message_id_and_duplicates_are_dropped() {
        let mut w = Window::new(WindowKey::room("Rust"), "Rust");
        assert_eq!(
            w.insert(LineKey::message(0, 5), msg(5, "five")),
            Some(Placed::End)
        );
        assert_eq!(
            w.insert(LineKey::message(0, 9), msg(9, "nine")),
            Some(Placed::End)
        );
        assert_eq!(
            w.insert(LineKey::message(0, 7), msg(7, "seven")),
            Some(Placed::Inside)
        );
        assert_eq!(w.insert(LineKey::message(0, 7), msg(7, "again")), None);
        let notice = Line {
            ts: 0,
            msg_id: None,
            kind: LineKind::Notice("after seven".into()),
            mention: false,
        };
        assert_eq!(
            w.insert(LineKey::notice(0, 7, 1), notice),
            Some(Placed::Inside)
        );
        let texts: Vec<String> = w.lines().map(Line::text).collect();
        assert_eq!(
            texts,
            ["<bob> five", "<bob> seven", "after seven", "<bob> nine"]
        );
        assert_eq!(w.oldest_msg_id(0), Some(5));
        assert_eq!(w.newest_msg_id(0), Some(9));
        // The same id in a later era is another message, shown after.
        assert_eq!(
            w.insert(LineKey::message(1, 5), msg(5, "five again")),
            Some(Placed::End)
        );
        assert_eq!(
            w.lines().last().map(Line::text).as_deref(),
            Some("<bob> five again")
        );
        assert_eq!((w.oldest_msg_id(1), w.newest_msg_id(1)), (Some(5), Some(5)));
        assert_eq!(w.newest_msg_id(0), Some(9));
        assert_eq!(w.newest_msg_id(2), None);
    }

    #[test]
    fn a_window_keeps_at_most_max_lines() {
        let mut w = Window::new(WindowKey::Status, "status");
        for id in 0..(MAX_LINES as u64 + 10) {
            w.insert(LineKey::message(0, id), msg(id, "x"));
        }
        assert_eq!(w.len(), MAX_LINES);
        assert_eq!(w.oldest_msg_id(0), Some(10));
    }

    #[test]
    fn members_and_keys_fold_case() {
        let mut w = Window::new(WindowKey::room("Lobby"), "Lobby");
        assert_eq!(w.key(), &WindowKey::room("lobby"));
        w.add_member(2, "Bob");
        assert!(w.has_member("BOB"));
        assert!(w.remove_member("bob"));
        assert!(!w.remove_member("bob"));
        w.set_members(&[
            MemberInfo {
                id: 1,
                nickname: "zed".into(),
                operator: true,
                voice: false,
                away: None,
            },
            MemberInfo {
                id: 2,
                nickname: "Ann".into(),
                operator: false,
                voice: false,
                away: Some("lunch".into()),
            },
            MemberInfo {
                id: 3,
                nickname: "max".into(),
                operator: false,
                voice: true,
                away: None,
            },
        ]);
        let shown = |w: &Window| -> Vec<String> {
            w.members_ranked()
                .iter()
                .map(|m| format!("{}{}", m.prefix(), m.nick))
                .collect()
        };
        assert_eq!(shown(&w), ["@zed", "+max", "Ann"]);
        let away =
            |w: &Window| -> Vec<bool> { w.members_ranked().iter().map(|m| m.away).collect() };
        assert_eq!(away(&w), [false, false, true]);
        assert!(w.set_away("ann", false));
        assert!(w.set_away("MAX", true));
        assert!(!w.set_away("nobody", true));
        assert_eq!(away(&w), [false, true, false]);
        assert!(w.set_rank("ANN", Rank::Operator, true));
        assert!(w.set_rank("zed", Rank::Operator, false));
        assert!(!w.set_rank("nobody", Rank::Voice, true));
        assert_eq!(shown(&w), ["@Ann", "+max", "zed"]);
        assert!(w.rename_member("max", 3, "Maxi"));
        assert_eq!(shown(&w), ["@Ann", "+Maxi", "zed"]);
        let mut q = Window::new(WindowKey::query("Ann"), "Ann");
        q.rename_query("Anna");
        assert_eq!(q.key(), &WindowKey::query("anna"));
        assert_eq!(q.label(), "Anna");
        assert_eq!(w.label(), "#Lobby");
    }
}
