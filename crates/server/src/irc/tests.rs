//! IRC handlers on their own: a session over a hub with an in-memory store,
//! fed lines directly, its replies read from its outbox. No sockets.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::Arc;

use chatroom_proto::irc::{Message, parse};

use super::{IrcSession, IrcSettings};
use crate::conn::{Flow, Session};
use crate::hub::Hub;
use crate::outbox::{CloseReason, Outbox};
use crate::testing::hub;

/// One IRC connection, without a socket.
struct Irc {
    session: IrcSession,
    outbox: Arc<Outbox>,
}

impl Irc {
    fn new(hub: &Arc<Hub>) -> Irc {
        let outbox = Arc::new(Outbox::new(1 << 20));
        let settings = IrcSettings::new("test.server", vec!["hello".into()], 50, 0);
        let session = IrcSession::new(
            hub.clone(),
            outbox.clone(),
            "127.0.0.1:1".parse().unwrap(),
            settings,
        );
        Irc { session, outbox }
    }

    /// Registered as `nick`, its burst read.
    async fn registered(hub: &Arc<Hub>, nick: &str) -> Irc {
        let mut irc = Irc::new(hub);
        irc.say(&format!("NICK {nick}")).await;
        irc.say(&format!("USER {nick} 0 * :{nick}")).await;
        let burst = irc.replies();
        assert_eq!(burst[0].command, "001", "{burst:?}");
        irc
    }

    /// Feeds one line; returns what the session decided.
    async fn say(&mut self, line: &str) -> Flow {
        let mut inputs = Vec::new();
        self.session
            .decode(format!("{line}\r\n").as_bytes(), &mut inputs);
        let mut flow = Flow::Continue;
        for input in inputs {
            flow = self.session.handle(input).await;
        }
        flow
    }

    /// Every line queued since the last call.
    fn replies(&self) -> Vec<Message> {
        let mut queued = VecDeque::new();
        self.outbox.take(&mut queued);
        queued
            .iter()
            .flat_map(|bytes| bytes.split(|b| *b == b'\n'))
            .filter(|line| !line.is_empty())
            .map(|line| parse(line.strip_suffix(b"\r").unwrap_or(line)).unwrap())
            .collect()
    }

    fn commands(&self) -> Vec<String> {
        self.replies().into_iter().map(|m| m.command).collect()
    }
}

fn last(m: &Message) -> &str {
    m.params.last().map_or("", String::as_str)
}

#[tokio::test]
async fn the_burst_announces_isupport_built_from_the_limits() {
    let hub = Arc::new(hub(0));
    let mut irc = Irc::new(&hub);
    irc.say("NICK alice").await;
    assert!(irc.replies().is_empty(), "registration waits for USER");
    irc.say("USER al 0 * :Alice").await;
    let burst = irc.replies();
    let commands: Vec<&str> = burst.iter().map(|m| m.command.as_str()).collect();
    for expected in [
        "001", "002", "003", "004", "005", "251", "375", "372", "376", "JOIN", "353", "366",
    ] {
        assert!(
            commands.contains(&expected),
            "{expected} missing: {commands:?}"
        );
    }
    let tokens: Vec<&String> = burst
        .iter()
        .filter(|m| m.command == "005")
        .flat_map(|m| &m.params)
        .collect();
    assert!(
        tokens.iter().any(|t| *t == "NETWORK=test.server"),
        "{tokens:?}"
    );
    assert!(tokens.iter().any(|t| *t == "NICKLEN=32"), "{tokens:?}");
    assert!(
        last(&burst[0]).ends_with("alice!al@user-1.chatroom"),
        "{:?}",
        burst[0]
    );
}

#[tokio::test]
async fn commands_are_checked_against_the_table_before_they_run() {
    let hub = Arc::new(hub(0));
    let mut irc = Irc::new(&hub);
    irc.say("JOIN #den").await;
    assert_eq!(irc.commands(), ["451"], "JOIN needs registration");
    irc.say("FROBNICATE").await;
    assert_eq!(irc.commands(), ["421"]);
    irc.say("NICK").await;
    assert_eq!(irc.commands(), ["431"]);
    let mut irc = Irc::registered(&hub, "bob").await;
    irc.say("USER again 0 * :x").await;
    assert_eq!(irc.commands(), ["462"]);
    irc.say("PRIVMSG").await;
    assert_eq!(irc.commands(), ["411"]);
    irc.say("PRIVMSG #lobby").await;
    assert_eq!(irc.commands(), ["412"]);
}

#[tokio::test]
async fn a_bad_channel_name_is_403_for_every_command() {
    let hub = Arc::new(hub(0));
    let mut irc = Irc::registered(&hub, "carol").await;
    for line in [
        "JOIN nochannel",
        "PART nochannel",
        "TOPIC nochannel",
        "KICK nochannel x",
        "MODE #nowhere",
    ] {
        irc.say(line).await;
        let replies = irc.replies();
        assert_eq!(replies.len(), 1, "{line}: {replies:?}");
        assert_eq!(replies[0].command, "403", "{line}: {replies:?}");
    }
}

#[tokio::test]
async fn cap_negotiation_holds_registration_and_is_all_or_nothing() {
    let hub = Arc::new(hub(0));
    let mut irc = Irc::new(&hub);
    irc.say("CAP LS 302").await;
    let ls = irc.replies();
    assert_eq!(
        last(&ls[0]),
        "account-notify account-tag away-notify batch cap-notify draft/chathistory chghost draft/event-playback draft/multiline=max-bytes=4096,max-lines=100 draft/read-marker echo-message extended-join extended-monitor invite-notify labeled-response message-tags multi-prefix sasl=PLAIN,EXTERNAL server-time setname standard-replies userhost-in-names"
    );
    irc.say("NICK dave").await;
    irc.say("USER dave 0 * :Dave").await;
    assert!(irc.replies().is_empty(), "registration waits for CAP END");
    irc.say("CAP REQ :server-time bogus").await;
    let nak = irc.replies();
    assert_eq!(
        (nak[0].params[1].as_str(), last(&nak[0])),
        ("NAK", "server-time bogus")
    );
    irc.say("CAP REQ :server-time").await;
    assert_eq!(irc.replies()[0].params[1], "ACK");
    irc.say("CAP LIST").await;
    assert_eq!(last(&irc.replies()[0]), "server-time");
    irc.say("CAP END").await;
    let burst = irc.replies();
    assert_eq!(burst[0].command, "001");
    assert!(burst.iter().any(|m| m.command == "JOIN"));
}

#[tokio::test]
async fn nick_rename_and_collisions() {
    let hub = Arc::new(hub(0));
    let alice = Irc::registered(&hub, "alice").await;
    let mut bob = Irc::registered(&hub, "bob").await;
    alice.replies();
    bob.say("NICK ALICE").await;
    assert_eq!(bob.commands(), ["433"]);
    bob.say("NICK bad,nick").await;
    assert_eq!(bob.commands(), ["432"]);
    bob.say("NICK robert").await;
    let renamed = bob.replies();
    assert_eq!(
        (renamed[0].command.as_str(), renamed[0].params[0].as_str()),
        ("NICK", "robert")
    );
    assert_eq!(renamed[0].source.as_ref().unwrap().name, "bob");
    let seen = alice.replies();
    assert!(
        seen.iter()
            .any(|m| m.command == "NICK" && m.params[0] == "robert"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn messages_to_channels_one_is_not_in_and_to_nobody() {
    let hub = Arc::new(hub(0));
    let mut irc = Irc::registered(&hub, "erin").await;
    irc.say("PRIVMSG #elsewhere :hi").await;
    assert_eq!(irc.commands(), ["404"]);
    irc.say("PRIVMSG nobody :hi").await;
    assert_eq!(irc.commands(), ["401"]);
    irc.say("NOTICE nobody :hi").await;
    assert!(
        irc.commands().is_empty(),
        "errors about a NOTICE are never answered"
    );
}

#[tokio::test]
async fn queries_about_users() {
    let hub = Arc::new(hub(0));
    let mut frank = Irc::registered(&hub, "frank").await;
    let _grace = Irc::registered(&hub, "grace").await;
    frank.replies();
    frank.say("WHOIS grace").await;
    let whois: Vec<String> = frank.commands();
    assert_eq!(whois, ["311", "319", "312", "317", "318"]);
    frank.say("WHOIS nobody").await;
    assert_eq!(frank.commands(), ["401", "318"]);
    frank.say("ISON grace nobody FRANK").await;
    assert_eq!(last(&frank.replies()[0]), "grace frank");
    frank.say("AWAY :lunch").await;
    assert_eq!(frank.commands(), ["306"]);
    frank.say("USERHOST frank").await;
    assert_eq!(last(&frank.replies()[0]), "frank=-frank@user-1.chatroom");
    frank.say("MODE frank +i").await;
    assert_eq!(last(&frank.replies()[0]), "+i");
    frank.say("MODE grace +i").await;
    assert_eq!(frank.commands(), ["502"]);
    frank.say("PING :token").await;
    let pong = frank.replies();
    assert_eq!(
        (pong[0].command.as_str(), last(&pong[0])),
        ("PONG", "token")
    );
}

#[tokio::test]
async fn quit_closes_with_the_message_and_others_see_it() {
    let hub = Arc::new(hub(0));
    let henry = Irc::registered(&hub, "henry").await;
    let mut iris = Irc::registered(&hub, "iris").await;
    henry.replies();
    assert_eq!(
        iris.say("QUIT :gone fishing").await,
        Flow::Close(CloseReason::Logout)
    );
    let last_words = iris.session.finish(CloseReason::Logout).unwrap();
    let error = parse(last_words.strip_suffix(b"\r\n").unwrap()).unwrap();
    assert_eq!(error.command, "ERROR");
    assert!(last(&error).ends_with("(Quit: gone fishing)"), "{error:?}");
    let quit = henry.replies();
    assert!(
        quit.iter()
            .any(|m| m.command == "QUIT" && last(m) == "Quit: gone fishing"),
        "{quit:?}"
    );
}
