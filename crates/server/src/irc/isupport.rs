//! `005 RPL_ISUPPORT`: what the server tells IRC clients about itself,
//! built once from its limits.

use chatroom_proto::nick::MAX_NICK_CHARS;
use chatroom_proto::room::{MAX_ROOM_CHARS, MAX_TOPIC_CHARS};

/// The longest away message kept (longer ones are cut).
pub const AWAYLEN: usize = 300;

/// The tokens of `005` for a server called `server_name`.
pub fn tokens(server_name: &str) -> Vec<String> {
    vec![
        // User mode `B` marks a bot (IRCv3 bot mode).
        "BOT=B".to_owned(),
        "CASEMAPPING=rfc8265".to_owned(),
        "CHANTYPES=#".to_owned(),
        // A channel is `#` and the room's name.
        format!("CHANNELLEN={}", MAX_ROOM_CHARS + 1),
        format!("NICKLEN={MAX_NICK_CHARS}"),
        format!("TOPICLEN={MAX_TOPIC_CHARS}"),
        format!("AWAYLEN={AWAYLEN}"),
        "CHANMODES=be,k,l,imnst".to_owned(),
        "PREFIX=(ov)@+".to_owned(),
        format!("MODES={}", chatroom_proto::modes::MAX_ARGUMENT_MODES),
        format!("KEYLEN={}", chatroom_proto::modes::MAX_KEY_BYTES),
        format!("MAXLIST=be:{}", crate::hub::MAX_LIST_ENTRIES),
        "EXCEPTS=e".to_owned(),
        format!("MONITOR={}", crate::hub::MAX_WATCHED),
        format!("CHATHISTORY={}", super::chathistory::MAX_LIMIT),
        "MSGREFTYPES=msgid,timestamp".to_owned(),
        // LIST's filters: creation time, masks, negated masks, topic time,
        // user counts (see `elist`).
        "ELIST=CMNTU".to_owned(),
        format!("NETWORK={server_name}"),
        "TARGMAX=PRIVMSG:4,NOTICE:4,JOIN:,PART:,NAMES:,WHOIS:1,KICK:".to_owned(),
        "UTF8ONLY".to_owned(),
        // WHO with `%fields` (see `who`).
        "WHOX".to_owned(),
    ]
}
