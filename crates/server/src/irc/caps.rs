//! IRCv3 capabilities: the one table of what the server offers, what a
//! client enabled, and the `CAP` command that negotiates them.

use chatroom_proto::irc::{self, Message, Source, numeric};

use super::IrcSession;
use crate::event::{Format, IrcFormat, IrcTags};

/// A capability the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// Its name in `CAP` lines.
    pub name: &'static str,
    bit: u32,
    /// Its value in `CAP LS 302` (`sasl=PLAIN,EXTERNAL`).
    value: Option<&'static str>,
}

/// `batch`: history replays come as a `chathistory` batch.
pub const BATCH: Capability = Capability {
    name: "batch",
    bit: 1,
    value: None,
};
/// `echo-message`: the sender gets its own messages back.
pub const ECHO_MESSAGE: Capability = Capability {
    name: "echo-message",
    bit: 1 << 1,
    value: None,
};
/// `message-tags`: lines carry tags (`time`, `msgid`).
pub const MESSAGE_TAGS: Capability = Capability {
    name: "message-tags",
    bit: 1 << 2,
    value: None,
};
/// `multi-prefix`: NAMES and WHO show every prefix (`@+nick`).
pub const MULTI_PREFIX: Capability = Capability {
    name: "multi-prefix",
    bit: 1 << 3,
    value: None,
};
/// `server-time`: lines carry the `time` tag.
pub const SERVER_TIME: Capability = Capability {
    name: "server-time",
    bit: 1 << 4,
    value: None,
};

/// `sasl`: `AUTHENTICATE PLAIN` or `EXTERNAL` logs into an account (see
/// `sasl.rs`).
pub const SASL: Capability = Capability {
    name: "sasl",
    bit: 1 << 5,
    value: Some(super::sasl::MECHANISMS),
};

/// `draft/chathistory`: `CHATHISTORY` reads stored messages (see
/// `chathistory.rs`; the command works without it too).
pub const CHATHISTORY: Capability = Capability {
    name: "draft/chathistory",
    bit: 1 << 6,
    value: None,
};

/// `away-notify`: others going away and back come as `AWAY` lines.
pub const AWAY_NOTIFY: Capability = Capability {
    name: "away-notify",
    bit: 1 << 7,
    value: None,
};
/// `account-notify`: others logging into accounts come as `ACCOUNT` lines.
pub const ACCOUNT_NOTIFY: Capability = Capability {
    name: "account-notify",
    bit: 1 << 8,
    value: None,
};
/// `invite-notify`: invitations into one's channels come as `INVITE` lines.
pub const INVITE_NOTIFY: Capability = Capability {
    name: "invite-notify",
    bit: 1 << 9,
    value: None,
};
/// `setname`: `SETNAME` changes one's real name, others' come as lines.
pub const SETNAME: Capability = Capability {
    name: "setname",
    bit: 1 << 10,
    value: None,
};
/// `cap-notify`: the server would announce capabilities it adds or drops
/// (its set never changes while it runs, so it never has to).
pub const CAP_NOTIFY: Capability = Capability {
    name: "cap-notify",
    bit: 1 << 11,
    value: None,
};

/// `labeled-response`: the answers to a request tagged `label` carry the
/// label (see `labels.rs`).
pub const LABELED_RESPONSE: Capability = Capability {
    name: "labeled-response",
    bit: 1 << 12,
    value: None,
};

/// `userhost-in-names`: NAMES shows `nick!user@host`.
pub const USERHOST_IN_NAMES: Capability = Capability {
    name: "userhost-in-names",
    bit: 1 << 13,
    value: None,
};

/// `extended-monitor`: away, account and real-name changes of the people
/// one monitors come as if one shared a channel with them (each with its
/// own capability too).
pub const EXTENDED_MONITOR: Capability = Capability {
    name: "extended-monitor",
    bit: 1 << 15,
    value: None,
};

/// `draft/read-marker`: `MARKREAD`, and one's read markers after JOIN and
/// when another session moves them (see `read_marker.rs`).
pub const READ_MARKER: Capability = Capability {
    name: "draft/read-marker",
    bit: 1 << 14,
    value: None,
};

/// `account-tag`: lines from someone logged into an account carry
/// `account=`.
pub const ACCOUNT_TAG: Capability = Capability {
    name: "account-tag",
    bit: 1 << 16,
    value: None,
};

/// `extended-join`: JOIN lines carry the joiner's account and real name.
pub const EXTENDED_JOIN: Capability = Capability {
    name: "extended-join",
    bit: 1 << 17,
    value: None,
};

/// `standard-replies`: the client understands `FAIL`, `WARN` and `NOTE`
/// (the server sends `FAIL` where a command has no numeric for the error,
/// with or without it).
pub const STANDARD_REPLIES: Capability = Capability {
    name: "standard-replies",
    bit: 1 << 18,
    value: None,
};

/// `draft/multiline`: a message of several lines sent and received as one
/// `draft/multiline` batch (see `multiline.rs`).
pub const MULTILINE: Capability = Capability {
    name: "draft/multiline",
    bit: 1 << 19,
    value: Some(super::multiline::LIMITS),
};

/// `chghost`: hosts an operator changes come as `CHGHOST` lines.
pub const CHGHOST: Capability = Capability {
    name: "chghost",
    bit: 1 << 20,
    value: None,
};

/// `draft/event-playback`: history (on join and by `CHATHISTORY`) shows
/// topic changes and kept TAGMSGs (reactions) beside messages.
pub const EVENT_PLAYBACK: Capability = Capability {
    name: "draft/event-playback",
    bit: 1 << 21,
    value: None,
};

/// Every capability offered, in `CAP LS` order.
pub const OFFERED: [Capability; 22] = [
    ACCOUNT_NOTIFY,
    ACCOUNT_TAG,
    AWAY_NOTIFY,
    BATCH,
    CAP_NOTIFY,
    CHATHISTORY,
    CHGHOST,
    EVENT_PLAYBACK,
    MULTILINE,
    READ_MARKER,
    ECHO_MESSAGE,
    EXTENDED_JOIN,
    EXTENDED_MONITOR,
    INVITE_NOTIFY,
    LABELED_RESPONSE,
    MESSAGE_TAGS,
    MULTI_PREFIX,
    SASL,
    SERVER_TIME,
    SETNAME,
    STANDARD_REPLIES,
    USERHOST_IN_NAMES,
];

/// The capabilities a client enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps(u32);

impl Caps {
    /// Whether `cap` is enabled.
    pub fn has(self, cap: Capability) -> bool {
        self.0 & cap.bit != 0
    }

    /// These capabilities with `cap` turned on or off.
    fn with(self, cap: Capability, on: bool) -> Caps {
        if on {
            Caps(self.0 | cap.bit)
        } else {
            Caps(self.0 & !cap.bit)
        }
    }

    /// The capabilities a `CAP REQ` asks for applied to these, or `None`
    /// if it names one the server does not offer (all or nothing).
    fn requested(self, wanted: &str) -> Option<Caps> {
        wanted.split_whitespace().try_fold(self, |caps, token| {
            let (name, on) = match token.strip_prefix('-') {
                Some(name) => (name, false),
                None => (token, true),
            };
            let cap = OFFERED.iter().find(|c| c.name == name)?;
            Some(caps.with(*cap, on))
        })
    }

    /// The names of the enabled capabilities, in `CAP LS` order.
    fn names(self) -> Vec<&'static str> {
        OFFERED
            .iter()
            .filter(|c| self.has(**c))
            .map(|c| c.name)
            .collect()
    }

    /// How events are written for a client with these capabilities.
    pub fn format(self) -> Format {
        Format::Irc(self.irc_format())
    }

    /// What these capabilities change in the lines the client is sent.
    pub(super) fn irc_format(self) -> IrcFormat {
        let tags = if self.has(MESSAGE_TAGS) {
            IrcTags::MessageTags
        } else if self.has(SERVER_TIME) {
            IrcTags::ServerTime
        } else {
            IrcTags::None
        };
        IrcFormat {
            tags,
            account_tag: self.has(ACCOUNT_TAG),
            extended_join: self.has(EXTENDED_JOIN),
            // A batch needs `batch` too.
            multiline: self.has(MULTILINE) && self.has(BATCH),
        }
    }

    /// The notifications these capabilities ask the hub for
    /// (`event::wants`).
    pub fn wants(self) -> u32 {
        use crate::event::wants;
        [
            (AWAY_NOTIFY, wants::AWAY),
            (ACCOUNT_NOTIFY, wants::ACCOUNT),
            (INVITE_NOTIFY, wants::INVITE),
            (SETNAME, wants::SETNAME),
            (EXTENDED_MONITOR, wants::EXTENDED_MONITOR),
            (READ_MARKER, wants::READ_MARKER),
            (CHGHOST, wants::CHGHOST),
        ]
        .into_iter()
        .filter(|(cap, _)| self.has(*cap))
        .fold(0, |bits, (_, want)| bits | want)
    }

    /// Whether lines for this client carry the server's tags (`time`,
    /// `msgid`).
    pub fn tagged(self) -> bool {
        self.irc_format().tags != IrcTags::None
    }
}

impl IrcSession {
    /// `CAP LS|LIST|REQ|END`.
    pub(super) async fn cap(&mut self, args: &[String]) {
        let sub = args.first().map(|s| s.to_uppercase()).unwrap_or_default();
        let reply = |s: &Self, sub: &str, text: String| {
            Message::new("CAP")
                .with_source(Source::server(s.server()))
                .param(s.addressee())
                .param(sub)
                .trailing_param(text)
        };
        match sub.as_str() {
            "LS" => {
                if self.client.is_none() {
                    self.negotiating = true;
                }
                // `CAP LS 302` (or later) shows values.
                let values = args
                    .get(1)
                    .and_then(|v| v.parse::<u32>().ok())
                    .is_some_and(|v| v >= 302);
                let offered: Vec<String> = OFFERED
                    .iter()
                    .map(|c| match (values, c.value) {
                        (true, Some(value)) => format!("{}={value}", c.name),
                        _ => c.name.to_owned(),
                    })
                    .collect();
                let m = reply(self, "LS", offered.join(" "));
                self.send(&m);
            }
            "LIST" => {
                let m = reply(self, "LIST", self.caps.names().join(" "));
                self.send(&m);
            }
            "REQ" => {
                if self.client.is_none() {
                    self.negotiating = true;
                }
                let wanted = args.get(1).cloned().unwrap_or_default();
                match self.caps.requested(&wanted) {
                    Some(caps) => {
                        self.caps = caps;
                        if let Some(client) = &self.client {
                            client.set_format(caps.format());
                            client.set_echo(caps.has(ECHO_MESSAGE));
                        }
                        self.update_wants();
                        let m = reply(self, "ACK", wanted);
                        self.send(&m);
                    }
                    None => {
                        let m = reply(self, "NAK", wanted);
                        self.send(&m);
                    }
                }
            }
            "END" => {
                self.negotiating = false;
                Box::pin(self.try_register()).await;
            }
            _ => {
                let m = self
                    .numeric(numeric::ERR_INVALIDCAPCMD)
                    .param(irc::safe_param(&sub))
                    .trailing_param("Invalid CAP command");
                self.send(&m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_all_or_nothing() {
        let none = Caps::default();
        let some = none.requested("server-time batch").unwrap();
        assert!(some.has(SERVER_TIME) && some.has(BATCH) && !some.has(ECHO_MESSAGE));
        assert_eq!(some.names(), ["batch", "server-time"]);
        assert_eq!(some.requested("echo-message nonsense"), None);
        let less = some.requested("-batch").unwrap();
        assert_eq!(less.names(), ["server-time"]);
        assert_eq!(less.irc_format().tags, IrcTags::ServerTime);
        assert_eq!(none.format(), Format::Irc(IrcFormat::default()));
        let accounts = none.requested("account-tag extended-join").unwrap();
        let both = accounts.irc_format();
        assert!(both.account_tag && both.extended_join);
        assert!(!accounts.tagged(), "account-tag alone adds no time tags");
    }

    #[test]
    fn every_capability_has_its_own_bit() {
        let all = OFFERED.iter().fold(0u32, |bits, c| {
            assert_eq!(bits & c.bit, 0, "{} shares a bit", c.name);
            bits | c.bit
        });
        assert_eq!(all.count_ones() as usize, OFFERED.len());
    }
}
