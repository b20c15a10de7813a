//! Rooms with owners: operators, voice, room modes, bans and exceptions,
//! invites and kicks, over real sockets in both protocols (a JSON user and
//! an IRC user in the same room see the same rules), and what survives a
//! restart.

use chatroom_server::Config;
use chatroom_server::store::Location;
use chatroom_testkit::{IrcRaw, Raw, TestServer, commands, last_param};
use serde_json::{Value, json};

use crate::support::{PASSWORD, user};

/// Sends a `mode` request and waits for its `done` (the change itself
/// arrives first, as a `mode` notice to the room).
async fn mode(c: &mut Raw, room: &str, modes: &str, args: &[&str]) -> Value {
    c.send_json(json!({"type": "mode", "room": room, "modes": modes, "args": args, "ref": "m"}))
        .await;
    let mut seen = Vec::new();
    loop {
        let f = c.recv().await;
        if f["type"] == "done" {
            assert_eq!(f["request"], "mode");
            break;
        }
        assert_ne!(f["type"], "error", "{f}");
        seen.push(f);
    }
    seen.into_iter()
        .find(|f| f["event"] == "mode")
        .expect("the change is announced to its maker")
}

/// Reads past notices (people arriving in the lobby) to the next error,
/// which must have `code`.
async fn refused(c: &mut Raw, code: &str) -> Value {
    let e = c.recv_type("error").await;
    assert_eq!(e["code"], code, "{e}");
    e
}

/// The numerics among `lines` (leaving out those of a join).
fn numerics(lines: &[chatroom_proto::irc::Message]) -> Vec<&str> {
    commands(lines)
        .into_iter()
        .filter(|c| c.len() == 3 && !["332", "333", "353", "366"].contains(c))
        .collect()
}

#[tokio::test]
async fn the_creator_gives_operator_status_and_voice_in_both_protocols() {
    let server = TestServer::start().await;
    let mut ann = user(&server, "ann").await;
    ann.join("den").await;
    let mut irc = IrcRaw::register(server.irc_addr, "ircbob", &[]).await;
    irc.send("JOIN #den").await;
    let lines = irc.sync().await;
    let names = lines.iter().find(|m| m.command == "353").unwrap();
    assert_eq!(last_param(names), "@ann ircbob", "{lines:?}");
    // A member who is not an operator cannot give it.
    irc.send("MODE #den +o ircbob").await;
    assert_eq!(numerics(&irc.sync().await), ["482"]);
    let change = mode(&mut ann, "den", "+ov", &["ircbob", "ircbob"]).await;
    assert_eq!(
        change["mode"],
        json!({"modes": "+ov", "args": ["ircbob", "ircbob"]})
    );
    assert_eq!(change["nickname"], "ann");
    let line = irc.until("MODE").await;
    assert_eq!(
        (
            line.source.as_ref().unwrap().name.as_str(),
            line.params.as_slice()
        ),
        (
            "ann",
            ["#den", "+ov", "ircbob", "ircbob"]
                .map(String::from)
                .as_slice()
        )
    );
    irc.send("NAMES #den").await;
    let lines = irc.sync().await;
    assert_eq!(last_param(&lines[0]), "@ann @ircbob");
    ann.send_json(json!({"type": "who", "room": "den"})).await;
    let who = ann.recv_type("member_list").await;
    assert_eq!(
        who["members"][1],
        json!({"id": who["members"][1]["id"], "nickname": "ircbob", "operator": true, "voice": true})
    );
    // multi-prefix shows both; userhost-in-names whole masks.
    let mut multi = IrcRaw::register(server.irc_addr, "multi", &["multi-prefix"]).await;
    multi.send("NAMES #den").await;
    assert_eq!(last_param(&multi.sync().await[0]), "@ann @+ircbob");
    let mut full = IrcRaw::register(server.irc_addr, "full", &["userhost-in-names"]).await;
    full.send("NAMES #den").await;
    let names = full.sync().await;
    let entries: Vec<&str> = last_param(&names[0]).split(' ').collect();
    assert!(entries[0].starts_with("@ann!ann@user-"), "{entries:?}");
    assert!(
        entries[1].starts_with("@ircbob!ircbob@user-"),
        "{entries:?}"
    );
    // Now an operator, the IRC user takes the JSON user's status.
    irc.send("MODE #den -o ann").await;
    irc.until("MODE").await;
    ann.send_json(json!({"type": "mode", "room": "den", "modes": "+m"}))
        .await;
    refused(&mut ann, "not_room_operator").await;
    server.stop().await;
}

#[tokio::test]
async fn a_moderated_room_hears_only_operators_and_voiced_members() {
    let server = TestServer::start().await;
    let mut ann = user(&server, "ann").await;
    ann.join("stage").await;
    let mut bob = user(&server, "bob").await;
    bob.join("stage").await;
    let mut irc = IrcRaw::register(server.irc_addr, "ircy", &[]).await;
    irc.send("JOIN #stage").await;
    irc.sync().await;
    mode(&mut ann, "stage", "+m", &[]).await;
    bob.send_json(json!({"type": "broadcast", "room": "stage", "message": "hi", "ref": 1}))
        .await;
    let e = refused(&mut bob, "cannot_send").await;
    assert_eq!(e["ref"], 1);
    irc.send("PRIVMSG #stage :hello").await;
    let lines = irc.sync().await;
    assert_eq!(numerics(&lines), ["404"], "{lines:?}");
    mode(&mut ann, "stage", "+v", &["bob"]).await;
    bob.drain().await;
    bob.say_in("stage", "now I speak").await;
    let heard = irc.until("PRIVMSG").await;
    assert_eq!(last_param(&heard), "now I speak");
    server.stop().await;
}

#[tokio::test]
async fn invite_only_rooms_take_the_invited_once() {
    let server = TestServer::start().await;
    let mut irc = IrcRaw::register(server.irc_addr, "host", &[]).await;
    irc.send("JOIN #club").await;
    irc.send("MODE #club +i").await;
    irc.until("MODE").await;
    let mut guest = user(&server, "guest").await;
    guest
        .send_json(json!({"type": "join", "room": "club"}))
        .await;
    refused(&mut guest, "invite_only").await;
    let mut other = IrcRaw::register(server.irc_addr, "other", &[]).await;
    other.send("JOIN #club").await;
    assert_eq!(numerics(&other.sync().await), ["473"]);
    // Outsiders cannot invite; the operator can.
    other.send("INVITE guest #club").await;
    assert_eq!(numerics(&other.sync().await), ["442"]);
    irc.send("INVITE guest #club").await;
    let lines = irc.sync().await;
    let inviting = lines.iter().find(|m| m.command == "341").unwrap();
    assert_eq!(inviting.params, ["host", "guest", "#club"]);
    let invite = loop {
        let p = guest.recv_type("presence").await;
        if p["event"] == "invite" {
            break p;
        }
    };
    assert_eq!(
        (
            invite["event"].as_str(),
            invite["room"].as_str(),
            invite["nickname"].as_str()
        ),
        (Some("invite"), Some("club"), Some("host"))
    );
    guest.join("club").await;
    // Someone already in is not invited again.
    irc.send("INVITE guest #club").await;
    assert_eq!(numerics(&irc.sync().await), ["443"]);
    // The invitation was used up.
    guest
        .send_json(json!({"type": "part", "room": "club"}))
        .await;
    guest.recv_type("parted").await;
    guest
        .send_json(json!({"type": "join", "room": "club"}))
        .await;
    refused(&mut guest, "invite_only").await;
    // JSON invites reach IRC users as INVITE lines.
    irc.send("MODE #club -i").await;
    irc.until("MODE").await;
    guest.join("club").await;
    irc.send("MODE #club +i").await;
    irc.until("MODE").await;
    guest
        .send_json(json!({"type": "invite", "room": "club", "nickname": "other"}))
        .await;
    refused(&mut guest, "not_room_operator").await;
    irc.send("MODE #club +o guest").await;
    irc.until("MODE").await;
    guest
        .send_json(json!({"type": "invite", "room": "club", "nickname": "other", "ref": "i"}))
        .await;
    assert_eq!(guest.recv_type("done").await["request"], "invite");
    let line = other.until("INVITE").await;
    assert_eq!(line.params, ["other", "#club"]);
    other.send("JOIN #club").await;
    other.until("366").await;
    server.stop().await;
}

#[tokio::test]
async fn a_key_and_a_limit_guard_the_door() {
    let server = TestServer::start().await;
    let mut ann = user(&server, "ann").await;
    ann.join("vault").await;
    mode(&mut ann, "vault", "+kl", &["s3cret", "2"]).await;
    let mut bob = user(&server, "bob").await;
    bob.send_json(json!({"type": "join", "room": "vault"}))
        .await;
    refused(&mut bob, "bad_room_key").await;
    bob.send_json(json!({"type": "join", "room": "vault", "key": "wrong"}))
        .await;
    refused(&mut bob, "bad_room_key").await;
    bob.send_json(json!({"type": "join", "room": "vault", "key": "s3cret"}))
        .await;
    bob.recv_type("joined").await;
    let mut irc = IrcRaw::register(server.irc_addr, "late", &[]).await;
    irc.send("JOIN #vault s3cret").await;
    assert_eq!(numerics(&irc.sync().await), ["471"], "the room is full");
    irc.send("JOIN #vault").await;
    assert_eq!(numerics(&irc.sync().await), ["475"]);
    // Members see the key, passers-by do not.
    irc.send("MODE #vault").await;
    let lines = irc.sync().await;
    let is = lines.iter().find(|m| m.command == "324").unwrap();
    assert_eq!(is.params[2..], ["+ntkl", "*", "2"]);
    ann.send_json(json!({"type": "mode", "room": "vault"}))
        .await;
    let modes = ann.recv_type("modes").await;
    assert_eq!(
        (modes["modes"].as_str(), &modes["args"]),
        (Some("+ntkl"), &json!(["s3cret", "2"]))
    );
    mode(&mut ann, "vault", "-l", &[]).await;
    // A change that changes nothing is answered all the same.
    ann.send_json(json!({"type": "mode", "room": "vault", "modes": "+n", "ref": 2}))
        .await;
    let done = ann.recv_type("done").await;
    assert_eq!(
        (done["request"].as_str(), &done["ref"]),
        (Some("mode"), &json!(2))
    );
    irc.send("JOIN #vault s3cret").await;
    irc.until("366").await;
    server.stop().await;
}

#[tokio::test]
async fn bans_keep_people_out_and_quiet_unless_excepted() {
    let server = TestServer::start().await;
    let mut ann = user(&server, "ann").await;
    ann.join("den").await;
    let mut troll = user(&server, "troll").await;
    troll.join("den").await;
    let change = mode(&mut ann, "den", "+b", &["troll"]).await;
    assert_eq!(
        change["mode"],
        json!({"modes": "+b", "args": ["troll!*@*"]}),
        "the mask is announced in full"
    );
    troll
        .send_json(json!({"type": "broadcast", "room": "den", "message": "spam"}))
        .await;
    refused(&mut troll, "cannot_send").await;
    let mut irc_troll = IrcRaw::register(server.irc_addr, "troll2", &[]).await;
    mode(&mut ann, "den", "+b", &["*!*@user-*.chatroom"]).await;
    irc_troll.send("JOIN #den").await;
    assert_eq!(numerics(&irc_troll.sync().await), ["474"]);
    // The list, in both protocols.
    ann.send_json(json!({"type": "mode", "room": "den", "modes": "b"}))
        .await;
    let list = ann.recv_type("mask_list").await;
    let masks: Vec<&str> = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["mask"].as_str().unwrap())
        .collect();
    assert_eq!(masks, ["troll!*@*", "*!*@user-*.chatroom"]);
    assert_eq!(list["entries"][0]["by"], "ann");
    irc_troll.send("MODE #den b").await;
    let lines = irc_troll.sync().await;
    assert_eq!(commands(&lines), ["367", "367", "368"]);
    assert_eq!(lines[0].params[2], "troll!*@*");
    // An exception lets one in despite the ban.
    mode(&mut ann, "den", "+e", &["troll2"]).await;
    irc_troll.send("JOIN #den").await;
    irc_troll.until("366").await;
    irc_troll.send("PRIVMSG #den :excepted").await;
    let heard = ann.recv_type("message").await;
    assert_eq!(heard["message"], "excepted");
    // Lifted, the bans no longer hold.
    mode(&mut ann, "den", "-bb", &["troll", "*!*@user-*.chatroom"]).await;
    troll.say_in("den", "I behave now").await;
    server.stop().await;
}

#[tokio::test]
async fn room_operators_kick_and_others_cannot() {
    let server = TestServer::start().await;
    let mut irc = IrcRaw::register(server.irc_addr, "opx", &[]).await;
    irc.send("JOIN #den").await;
    irc.sync().await;
    let mut bob = user(&server, "bob").await;
    bob.join("den").await;
    let mut carol = user(&server, "carol").await;
    carol.join("den").await;
    bob.send_json(json!({"type": "kick", "room": "den", "nickname": "carol"}))
        .await;
    refused(&mut bob, "not_room_operator").await;
    irc.send("KICK #den nobody").await;
    assert_eq!(numerics(&irc.sync().await), ["401"]);
    irc.send("KICK #den carol :behave").await;
    let kicked = carol.recv_type("presence").await;
    assert_eq!(
        (kicked["event"].as_str(), kicked["nickname"].as_str()),
        (Some("leave"), Some("carol"))
    );
    assert!(kicked["reason"].as_str().unwrap().contains("behave"));
    let line = irc.until("KICK").await;
    assert_eq!(line.params, ["#den", "carol", "behave"]);
    irc.send("KICK #den carol").await;
    assert_eq!(numerics(&irc.sync().await), ["441"]);
    server.stop().await;
}

#[tokio::test]
async fn secret_rooms_hide_from_outsiders_and_open_rooms_take_outside_messages() {
    let server = TestServer::start().await;
    let mut ann = user(&server, "ann").await;
    ann.join("hidden").await;
    ann.join("open").await;
    mode(&mut ann, "hidden", "+s", &[]).await;
    mode(&mut ann, "open", "-n", &[]).await;
    let mut irc = IrcRaw::register(server.irc_addr, "peek", &[]).await;
    irc.send("LIST").await;
    let lines = irc.sync().await;
    let listed: Vec<&str> = lines
        .iter()
        .filter(|m| m.command == "322")
        .map(|m| m.params[1].as_str())
        .collect();
    assert_eq!(listed, ["#lobby", "#open"]);
    irc.send("NAMES #hidden").await;
    let lines = irc.sync().await;
    assert_eq!(commands(&lines), ["366"], "no names for outsiders");
    ann.send_json(json!({"type": "rooms"})).await;
    let rooms = ann.recv_type("room_list").await;
    assert_eq!(
        rooms["rooms"].as_array().unwrap().len(),
        3,
        "members see it"
    );
    // From outside: `-n` lets the message in, `+n` (the default) does not.
    irc.send("PRIVMSG #open :from outside").await;
    let heard = ann.recv_type("message").await;
    assert_eq!(
        (heard["room"].as_str(), heard["message"].as_str()),
        (Some("open"), Some("from outside"))
    );
    irc.send("PRIVMSG #hidden :knock").await;
    assert_eq!(numerics(&irc.sync().await), ["404"]);
    server.stop().await;
}

#[tokio::test]
async fn a_rooms_modes_operators_bans_and_topic_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || Config {
        store: Location::Dir(dir.path().to_owned()),
        ..chatroom_testkit::test_config()
    };
    let server = TestServer::start_with(config()).await;
    let mut owner = Raw::login_with(
        server.addr,
        json!({"type": "register", "nickname": "owner", "password": PASSWORD}),
    )
    .await;
    owner.recv_type("registered").await;
    owner.join("keep").await;
    mode(&mut owner, "keep", "+mk-t", &["door"]).await;
    mode(&mut owner, "keep", "+b", &["spammer"]).await;
    owner
        .send_json(json!({"type": "topic", "room": "keep", "topic": "kept", "ref": 1}))
        .await;
    owner.recv_type("topic").await;
    server.stop().await;

    let server = TestServer::start_with(config()).await;
    let mut owner = Raw::login_with(
        server.addr,
        json!({"type": "login", "nickname": "owner", "password": PASSWORD}),
    )
    .await;
    owner
        .send_json(json!({"type": "mode", "room": "keep"}))
        .await;
    let modes = owner.recv_type("modes").await;
    assert_eq!(
        (modes["modes"].as_str(), &modes["args"]),
        (Some("+mnk"), &json!(["*"])),
        "the key is for members"
    );
    owner
        .send_json(json!({"type": "join", "room": "keep", "key": "door"}))
        .await;
    let joined = owner.recv_type("joined").await;
    assert_eq!(joined["topic"], "kept");
    assert_eq!(
        joined["members"][0]["operator"], true,
        "its owner's account is its operator again"
    );
    owner
        .send_json(json!({"type": "mode", "room": "keep", "modes": "b"}))
        .await;
    let list = owner.recv_type("mask_list").await;
    assert_eq!(list["entries"][0]["mask"], "spammer!*@*");
    server.stop().await;
}

#[tokio::test]
async fn hostile_mode_requests_are_refused_one_by_one() {
    let server = TestServer::start().await;
    let mut irc = IrcRaw::register(server.irc_addr, "opz", &[]).await;
    irc.send("JOIN #den").await;
    irc.sync().await;
    // Unknown modes, missing and bad arguments: each answered, the rest
    // applied.
    irc.send("MODE #den +xyzm").await;
    let lines = irc.sync().await;
    assert_eq!(commands(&lines), ["472", "472", "472", "MODE"], "{lines:?}");
    irc.send("MODE #den +l").await;
    assert_eq!(commands(&irc.sync().await), ["461"]);
    irc.send("MODE #den +l -5").await;
    let lines = irc.sync().await;
    assert_eq!(commands(&lines), ["696"]);
    assert_eq!(lines[0].params[1..4], ["#den", "l", "-5"]);
    irc.send("MODE #den +k :a secret with spaces").await;
    let lines = irc.sync().await;
    assert_eq!(commands(&lines), ["696"]);
    assert_eq!(
        lines[0].params[1..4],
        ["#den", "k", "*"],
        "a key is never echoed"
    );
    irc.send(&format!("MODE #den +b {}", "x".repeat(400))).await;
    assert_eq!(commands(&irc.sync().await), ["696"]);
    // Masks of wildcards only are masks like any other.
    irc.send("MODE #den +b *!*@*").await;
    assert_eq!(last_param(&irc.until("MODE").await), "*!*@*");
    irc.send("MODE #den -b *").await;
    irc.until("MODE").await;
    // A full list refuses more.
    for i in 0..100 {
        irc.send(&format!("MODE #den +b n{i}")).await;
    }
    irc.send("MODE #den +b one-too-many").await;
    let lines = irc.sync().await;
    assert_eq!(commands(&lines).last(), Some(&"478"), "{:?}", lines.last());
    // Only four modes with arguments per request.
    irc.send("MODE #den -bbbbbb n0 n1 n2 n3 n4 n5").await;
    let line = irc.until("MODE").await;
    assert_eq!(line.params[1], "-bbbb");
    // JSON: the same rules, and args that are not strings are refused.
    let mut ann = user(&server, "ann").await;
    ann.send_json(json!({"type": "mode", "room": "den", "modes": "+o", "args": [1]}))
        .await;
    refused(&mut ann, "invalid_field").await;
    ann.send_json(json!({"type": "mode", "room": "den", "modes": "+q"}))
        .await;
    refused(&mut ann, "invalid_field").await;
    ann.send_json(json!({"type": "mode", "room": "nowhere", "modes": "+m"}))
        .await;
    refused(&mut ann, "no_such_room").await;
    ann.send_json(json!({"type": "mode", "room": "den"})).await;
    assert_eq!(ann.recv_type("modes").await["modes"], "+mnt");
    ann.assert_quiet_and_alive().await;
    irc.send("PING :alive").await;
    irc.until("PONG").await;
    server.stop().await;
}
