//! The hub on its own: an in-memory store, clients whose outboxes the tests
//! read directly (as JSON frames), no sockets.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::*;
use crate::accounts::Identity;
use crate::event::Format;
use crate::outbox::{CloseReason, Outbox};
use crate::testing::hub;

/// A logged-in client and what the hub queued for it.
struct Peer {
    client: Arc<Client>,
    outbox: Arc<Outbox>,
}

impl Peer {
    fn login(hub: &Hub, nick: &str) -> Peer {
        Self::login_as(hub, nick, false)
    }

    fn login_as(hub: &Hub, nick: &str, operator: bool) -> Peer {
        let outbox = Arc::new(Outbox::new(1 << 20));
        let arrival = Arrival {
            nick: nick.to_owned(),
            user: nick.to_owned(),
            realname: nick.to_owned(),
            address: "127.0.0.1:1".parse().unwrap(),
            format: Format::Json,
            echo: false,
            identity: Identity {
                account: None,
                operator,
            },
            enter_lobby: true,
            password_given: false,
            certfp: None,
            id: None,
        };
        let client = hub
            .login(arrival, outbox.clone(), |_, _, _| Bytes::new())
            .unwrap();
        Peer { client, outbox }
    }

    /// Every frame queued since the last call, as JSON.
    fn frames(&self) -> Vec<Value> {
        let mut queued = VecDeque::new();
        self.outbox.take(&mut queued);
        let mut frames = Vec::new();
        for bytes in queued {
            self.outbox.written(bytes.len());
            for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                frames.push(serde_json::from_slice(line).unwrap());
            }
        }
        frames
    }

    fn events(&self, event: &str) -> Vec<Value> {
        self.frames()
            .into_iter()
            .filter(|f| f["event"] == event)
            .collect()
    }
}

fn join(hub: &Hub, peer: &Peer, room: &str) -> Joined {
    hub.join(&peer.client, room, None, |_| Bytes::new())
        .unwrap()
}

#[test]
fn a_join_splits_history_from_live_at_its_horizon() {
    let hub = hub(0);
    let alice = Peer::login(&hub, "alice");
    join(&hub, &alice, "den");
    let before = hub
        .say(&alice.client, Some("den"), "before", Style::default(), None)
        .unwrap();
    let bob = Peer::login(&hub, "bob");
    let joined = join(&hub, &bob, "den");
    assert!(before.msg_id < joined.horizon, "said before: replayed");
    let after = hub
        .say(&alice.client, Some("den"), "after", Style::default(), None)
        .unwrap();
    assert!(after.msg_id >= joined.horizon, "said after: live");
    let live: Vec<String> = bob
        .frames()
        .into_iter()
        .filter(|f| f["type"] == "message")
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(live, ["after"], "only what was said after the join is live");
    let names: Vec<&str> = joined.members.iter().map(|m| &*m.person.nick).collect();
    assert_eq!(names, ["alice", "bob"]);
}

/// The texts of the messages queued for `peer` since the last read.
fn messages(peer: &Peer) -> Vec<String> {
    peer.frames()
        .into_iter()
        .filter(|f| f["type"] == "message")
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_room_fan_out_reaches_every_member_once_and_in_order() {
    // Rooms smaller and larger than how far ahead the fan-out prefetches
    // (`publish.rs`), so that every step runs out before the last member.
    for size in [1, 3, 5, 9, 17, 40] {
        let hub = hub(0);
        let room = format!("hall{size}");
        let peers: Vec<Peer> = (0..size)
            .map(|n| {
                let peer = Peer::login(&hub, &format!("p{size}x{n}"));
                join(&hub, &peer, &room);
                peer
            })
            .collect();
        for peer in &peers {
            peer.frames();
        }
        let speaker = &peers[size / 2];
        for text in ["one", "two", "three"] {
            hub.say(&speaker.client, Some(&room), text, Style::default(), None)
                .unwrap();
        }
        for (n, peer) in peers.iter().enumerate() {
            let heard = messages(peer);
            if n == size / 2 {
                assert!(heard.is_empty(), "the speaker hears itself: {heard:?}");
            } else {
                assert_eq!(heard, ["one", "two", "three"], "member {n} of {size}");
            }
        }
    }
}

#[test]
fn what_one_sends_oneself_counts_as_one_delivery() {
    let hub = hub(0);
    let alice = Peer::login(&hub, "alice");
    let deliveries = || hub.state.lock().deliveries.get();
    let before = deliveries();
    hub.direct(&alice.client, "alice", "note", Style::default(), |_, _| {
        None
    })
    .unwrap();
    assert_eq!(deliveries(), before + 1, "a direct message");
    let tags: Arc<[(String, Option<String>)]> = Arc::from(vec![("+typing".into(), None)]);
    hub.tag_message(&alice.client, TagTo::User("alice"), tags)
        .unwrap();
    assert_eq!(deliveries(), before + 2, "a TAGMSG");
    let notes: Vec<Value> = alice
        .frames()
        .into_iter()
        .filter(|f| f["type"] == "direct")
        .collect();
    assert_eq!(notes.len(), 1, "received, not echoed: {notes:?}");
}

#[test]
fn someone_sharing_several_rooms_hears_of_a_rename_once() {
    let hub = hub(0);
    let alice = Peer::login(&hub, "alice");
    let bob = Peer::login(&hub, "bob");
    let carol = Peer::login(&hub, "carol");
    for room in ["one", "two"] {
        join(&hub, &alice, room);
        join(&hub, &bob, room);
    }
    bob.frames();
    carol.frames();
    let renamed = hub.rename(&alice.client, "alicia").unwrap();
    assert_eq!(
        (renamed.old.as_str(), renamed.new.as_str()),
        ("alice", "alicia")
    );
    assert_eq!(
        bob.events("nick").len(),
        1,
        "once, though in three rooms with her"
    );
    assert_eq!(carol.events("nick").len(), 1, "the lobby is shared too");
    assert!(
        alice.events("nick").is_empty(),
        "the renamer is answered by its session"
    );
}

#[test]
fn a_rename_frees_the_old_name_and_takes_the_new() {
    let hub = hub(0);
    let alice = Peer::login(&hub, "alice");
    let bob = Peer::login(&hub, "bob");
    assert!(matches!(
        hub.rename(&bob.client, "ALICE"),
        Err(HubError::NickTaken(_))
    ));
    // A look-alike of someone else's name is refused too.
    assert!(matches!(
        hub.rename(&bob.client, "\u{430}lice"),
        Err(HubError::LooksLike(_))
    ));
    hub.rename(&alice.client, "alicia").unwrap();
    hub.rename(&bob.client, "alice").unwrap();
    assert_eq!(&*hub.person(&bob.client).unwrap().nick, "alice");
    // Changing the case of one's own name is fine.
    hub.rename(&bob.client, "Alice").unwrap();
    assert_eq!(hub.online_nicks(["alicia", "ALICE"]), ["alicia", "Alice"]);
}

#[test]
fn a_ban_disconnects_and_keeps_out_look_alikes() {
    let hub = hub(0);
    let op = Peer::login_as(&hub, "op", true);
    let mallory = Peer::login(&hub, "mallory");
    let bob = Peer::login(&hub, "bob");
    assert!(matches!(
        hub.ban_nick(&bob.client, "mallory", "spam"),
        Err(HubError::NotOperator)
    ));
    hub.ban_nick(&op.client, "mallory", "spam").unwrap();
    assert_eq!(mallory.outbox.close_reason(), Some(CloseReason::Banned));
    hub.leave(&mallory.client, CloseReason::Banned, None);
    for nick in ["mallory", "MALLORY", "m\u{430}llory"] {
        let outbox = Arc::new(Outbox::new(1024));
        let arrival = Arrival {
            nick: nick.to_owned(),
            user: "m".into(),
            realname: "m".into(),
            address: "127.0.0.1:2".parse().unwrap(),
            format: Format::Json,
            echo: false,
            identity: Identity {
                account: None,
                operator: false,
            },
            enter_lobby: true,
            password_given: false,
            certfp: None,
            id: None,
        };
        let refused = hub.login(arrival, outbox, |_, _, _| Bytes::new());
        assert!(matches!(refused, Err(HubError::Banned(_))), "{nick}");
    }
    assert!(
        hub.unban(&op.client, &BanTarget::Nickname("mallory".into()))
            .unwrap()
    );
    assert!(
        bob.outbox.close_reason().is_none(),
        "nobody else was touched"
    );
}

#[test]
fn large_rooms_count_presence_and_summarise_it_once() {
    let hub = hub(3);
    let peers: Vec<Peer> = ["a", "b", "c"]
        .iter()
        .map(|n| Peer::login(&hub, n))
        .collect();
    // The lobby has 3 members now: large. Joins and leaves are counted.
    for p in &peers {
        p.frames();
    }
    let d = Peer::login(&hub, "d");
    let e = Peer::login(&hub, "e");
    hub.leave(&e.client, CloseReason::Closed, None);
    assert!(peers[0].events("join").is_empty(), "no notice per join");
    assert!(peers[0].events("leave").is_empty(), "nor per leave");
    hub.flush_presence();
    let summaries = peers[0].events("summary");
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    let summary = &summaries[0]["summary"];
    assert_eq!(
        (&summary["joined"], &summary["left"]),
        (&2.into(), &1.into())
    );
    assert_eq!(summary["members"], 4);
    assert_eq!(d.events("summary").len(), 1);
    // Nothing new: no summary.
    hub.flush_presence();
    assert!(peers[0].events("summary").is_empty());
}

#[test]
fn leaving_tells_everyone_sharing_a_small_room_once() {
    let hub = hub(0);
    let alice = Peer::login(&hub, "alice");
    let bob = Peer::login(&hub, "bob");
    join(&hub, &alice, "den");
    join(&hub, &bob, "den");
    bob.frames();
    hub.leave(&alice.client, CloseReason::Closed, Some("bye\u{1b}[2J"));
    let leaves = bob.events("leave");
    assert_eq!(leaves.len(), 1);
    assert_eq!(leaves[0]["reason"], "Quit: bye\u{FFFD}[2J", "defused");
    // Gone from the room and the indexes.
    assert_eq!(hub.who(&bob.client, "den").unwrap().1.len(), 1);
    assert!(hub.whois("alice").is_none());
    Peer::login(&hub, "alice");
}

#[test]
fn invitations_end_with_a_join_or_with_the_invitee_leaving() {
    let hub = hub(0);
    let alice = Peer::login(&hub, "alice");
    let bob = Peer::login(&hub, "bob");
    let carol = Peer::login(&hub, "carol");
    join(&hub, &alice, "den");
    join(&hub, &alice, "attic");
    hub.invite(&alice.client, "den", "bob").unwrap();
    hub.invite(&alice.client, "attic", "bob").unwrap();
    hub.invite(&alice.client, "den", "carol").unwrap();
    assert_eq!(hub.invitations(&bob.client), ["attic", "den"]);
    join(&hub, &bob, "den");
    assert_eq!(
        hub.invitations(&bob.client),
        ["attic"],
        "joining uses it up"
    );
    let invited = |room: &str| {
        let state = hub.state.lock();
        let mut ids: Vec<UserId> = state.rooms[room].invited.iter().copied().collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(invited("attic"), [bob.client.id]);
    assert_eq!(invited("den"), [carol.client.id]);
    hub.leave(&bob.client, CloseReason::Closed, None);
    hub.leave(&carol.client, CloseReason::Closed, None);
    assert!(
        invited("attic").is_empty(),
        "no invitation outlives its invitee"
    );
    assert!(invited("den").is_empty());
}

#[test]
fn empty_rooms_without_a_topic_are_forgotten() {
    let hub = hub(0);
    let alice = Peer::login(&hub, "alice");
    join(&hub, &alice, "brief");
    join(&hub, &alice, "kept");
    hub.set_topic(&alice.client, "kept", "stays").unwrap();
    hub.part(&alice.client, "brief", None).unwrap();
    hub.part(&alice.client, "kept", None).unwrap();
    assert!(matches!(hub.topic("brief"), Err(HubError::NoSuchRoom(_))));
    assert_eq!(hub.topic("kept").unwrap().text, "stays");
    let names: Vec<String> = hub
        .rooms(&alice.client)
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["lobby"], "only rooms with members are listed");
}

#[test]
fn lifting_the_topic_lock_lets_members_set_the_topic() {
    use chatroom_proto::modes::{Change, Flag};
    let hub = hub(0);
    let alice = Peer::login(&hub, "alice");
    let bob = Peer::login(&hub, "bob");
    join(&hub, &alice, "den");
    join(&hub, &bob, "den");
    assert!(matches!(
        hub.set_topic(&bob.client, "den", "mine"),
        Err(HubError::NotRoomOperator(_))
    ));
    let outcome = hub
        .change_modes(
            &alice.client,
            "den",
            &[Change::Flag(Flag::TopicLock, false)],
        )
        .unwrap();
    assert_eq!(outcome.applied.len(), 1);
    hub.set_topic(&bob.client, "den", "mine").unwrap();
}

#[test]
fn leaving_and_renaming_are_remembered_for_whowas() {
    let hub = hub(0);
    let alice = Peer::login(&hub, "alice");
    hub.rename(&alice.client, "ann").unwrap();
    hub.leave(&alice.client, CloseReason::Logout, None);
    let bob = Peer::login(&hub, "Alice");
    hub.leave(&bob.client, CloseReason::Logout, None);
    let gone = hub.whowas("ALICE", 0);
    let ids: Vec<&str> = gone.iter().map(|d| d.host.as_str()).collect();
    assert_eq!(
        ids,
        [
            &*crate::event::Person::cloak(bob.client.id),
            &*crate::event::Person::cloak(alice.client.id)
        ],
        "most recent first, without case"
    );
    assert_eq!(hub.whowas("alice", 1).len(), 1);
    assert_eq!(hub.whowas("ann", 0).len(), 1);
    assert!(hub.whowas("carol", 0).is_empty());
    // Renaming to the very same nickname is no change: nothing remembered.
    let carol = Peer::login(&hub, "carol");
    hub.rename(&carol.client, "carol").unwrap();
    assert!(hub.whowas("carol", 0).is_empty());
}

#[test]
fn the_census_counts_invisible_users_operators_and_the_peak() {
    let hub = hub(0);
    let alice = Peer::login(&hub, "alice");
    let root = Peer::login_as(&hub, "root", true);
    hub.set_invisible(&alice.client, true);
    join(&hub, &alice, "den");
    let census = hub.census();
    assert_eq!(
        (
            census.users,
            census.invisible,
            census.operators,
            census.peak
        ),
        (2, 1, 1, 2)
    );
    assert_eq!(census.rooms, 2, "the lobby and den have members");
    hub.leave(&root.client, CloseReason::Logout, None);
    let census = hub.census();
    assert_eq!((census.users, census.operators, census.peak), (1, 0, 2));
}

#[test]
fn invisible_users_hide_from_masks_and_secret_rooms_from_outsiders() {
    let hub = hub(0);
    let eve = Peer::login(&hub, "eve");
    let bob = Peer::login(&hub, "bob");
    let root = Peer::login_as(&hub, "root", true);
    for peer in [&eve, &bob] {
        hub.part(&peer.client, "lobby", None).unwrap();
    }
    let nicks = |viewer: &Peer, mask: &str| -> Vec<String> {
        hub.who_matching(&viewer.client, mask)
            .into_iter()
            .map(|p| p.person.nick.to_string())
            .collect()
    };
    assert_eq!(nicks(&bob, "e*"), ["eve"]);
    hub.set_invisible(&eve.client, true);
    assert!(nicks(&bob, "e*").is_empty(), "invisible, no shared room");
    assert_eq!(nicks(&eve, "e*"), ["eve"], "one always sees oneself");
    assert_eq!(
        nicks(&root, "E?E"),
        ["eve"],
        "server operators see everyone"
    );
    join(&hub, &eve, "den");
    join(&hub, &bob, "den");
    assert_eq!(nicks(&bob, "e*"), ["eve"], "sharing a room");
    // WHOIS's rooms: a secret room only to those in it.
    join(&hub, &eve, "hideout");
    let changes = chatroom_proto::modes::parse("+s", &[] as &[&str]).0;
    hub.change_modes(&eve.client, "hideout", &changes).unwrap();
    let rooms = |viewer: &Peer| -> Vec<(String, bool)> {
        hub.rooms_of(&viewer.client, "eve")
            .unwrap()
            .into_iter()
            .map(|(r, s)| (r, s.operator))
            .collect()
    };
    assert_eq!(rooms(&bob), [("den".to_owned(), true)]);
    assert_eq!(rooms(&eve).len(), 2);
    assert_eq!(rooms(&root).len(), 2);
    assert!(hub.rooms_of(&bob.client, "nobody").is_none());
}
