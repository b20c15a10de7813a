//! Named numeric replies: every numeric the IRC session sends, in one place.
//!
//! Numbers and names follow RFC 2812 section 5 and modern.ircdocs.horse
//! (which also names the IRCv3 additions); each constant's documentation
//! gives the parameters the reply carries, `<client>` being the receiver's
//! nickname (or `*` before it has one). Where RFC 2812 and ircdocs spell a
//! name differently, ircdocs wins (`ERR_ALREADYREGISTERED`, not
//! `ERR_ALREADYREGISTRED`).
//!
//! Capability negotiation has a single numeric of its own,
//! [`ERR_INVALIDCAPCMD`]: all its replies are `CAP` messages, not numerics.
//! The SASL numerics (900-908) come last.

/// A numeric reply: the three-digit code sent as the command, and its name
/// (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Numeric {
    code: &'static str,
    name: &'static str,
}

impl Numeric {
    /// The three digits as sent, e.g. `"001"`.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// The conventional name, e.g. `"RPL_WELCOME"`.
    pub fn name(self) -> &'static str {
        self.name
    }
}

impl std::fmt::Display for Numeric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.name)
    }
}

/// The named numeric with this three-digit code, if this module names it.
pub fn by_code(code: &str) -> Option<Numeric> {
    ALL.iter().copied().find(|n| n.code == code)
}

/// Declares each numeric as a constant and lists them all in [`ALL`].
macro_rules! numerics {
    ($( $(#[$doc:meta])* $name:ident = $code:literal; )*) => {
        $(
            $(#[$doc])*
            pub const $name: Numeric = Numeric { code: $code, name: stringify!($name) };
        )*
        /// Every numeric this module names, in numeric order.
        pub const ALL: &[Numeric] = &[$($name),*];
    };
}

numerics! {
    /// `<client> :Welcome to the <network> Network, <nick>[!<user>@<host>]`: first line after registration.
    RPL_WELCOME = "001";
    /// `<client> :Your host is <servername>, running version <version>`.
    RPL_YOURHOST = "002";
    /// `<client> :This server was created <datetime>`.
    RPL_CREATED = "003";
    /// `<client> <servername> <version> <user modes> <channel modes> [<channel modes with a parameter>]`.
    RPL_MYINFO = "004";
    /// `<client> <1-13 tokens> :are supported by this server`: the ISUPPORT tokens
    /// (CHANTYPES, NICKLEN, CASEMAPPING, ...).
    RPL_ISUPPORT = "005";
    /// `<client> <user modes>`: reply to `MODE <own nick>`.
    RPL_UMODEIS = "221";
    /// `<client> :There are <u> users and <i> invisible on <s> servers`.
    RPL_LUSERCLIENT = "251";
    /// `<client> <ops> :operator(s) online`.
    RPL_LUSEROP = "252";
    /// `<client> <connections> :unknown connection(s)`.
    RPL_LUSERUNKNOWN = "253";
    /// `<client> <channels> :channels formed`.
    RPL_LUSERCHANNELS = "254";
    /// `<client> :I have <c> clients and <s> servers`.
    RPL_LUSERME = "255";
    /// `<client> [<server>] :Administrative info`: first line of ADMIN.
    RPL_ADMINME = "256";
    /// `<client> :<info>`: ADMIN, where the server is.
    RPL_ADMINLOC1 = "257";
    /// `<client> :<info>`: ADMIN, who runs it.
    RPL_ADMINLOC2 = "258";
    /// `<client> :<info>`: ADMIN, how to reach them.
    RPL_ADMINEMAIL = "259";
    /// `<client> <command> :Please wait a while and try again.`: a command
    /// dropped by the server's rate limit.
    RPL_TRYAGAIN = "263";
    /// `<client> [<u> <m>] :Current local users <u>, max <m>`.
    RPL_LOCALUSERS = "265";
    /// `<client> [<u> <m>] :Current global users <u>, max <m>`.
    RPL_GLOBALUSERS = "266";
    /// `<client> <nick> :has client certificate fingerprint <fingerprint>`:
    /// WHOIS, to the user themself and to server operators.
    RPL_WHOISCERTFP = "276";
    /// `<client> <nick> :<away message>`: the target of a message or WHOIS is away.
    RPL_AWAY = "301";
    /// `<client> :[<nick>[*]=<+|-><host>{ ...}]`: reply to USERHOST.
    RPL_USERHOST = "302";
    /// `<client> :[<nick>{ <nick>}]`: reply to ISON, the nicknames online.
    RPL_ISON = "303";
    /// `<client> :You are no longer marked as being away`.
    RPL_UNAWAY = "305";
    /// `<client> :You have been marked as being away`.
    RPL_NOWAWAY = "306";
    /// `<client> <nick> <username> <host> * :<realname>`: WHOIS, first line.
    RPL_WHOISUSER = "311";
    /// `<client> <nick> <server> :<server info>`: WHOIS, the user's server.
    RPL_WHOISSERVER = "312";
    /// `<client> <nick> :is an IRC operator`: WHOIS, the user is an operator.
    RPL_WHOISOPERATOR = "313";
    /// `<client> <nick> <username> <host> * :<realname>`: one WHOWAS entry.
    RPL_WHOWASUSER = "314";
    /// `<client> <mask> :End of WHO list`.
    RPL_ENDOFWHO = "315";
    /// `<client> <nick> <secs> <signon> :seconds idle, signon time`: WHOIS.
    RPL_WHOISIDLE = "317";
    /// `<client> <nick> :End of /WHOIS list`.
    RPL_ENDOFWHOIS = "318";
    /// `<client> <nick> :[prefix]<channel>{ [prefix]<channel>}`: WHOIS, the user's channels.
    RPL_WHOISCHANNELS = "319";
    /// `<client> Channel :Users  Name`: start of a LIST reply (optional; clients
    /// must not depend on it, but older ones like to see it).
    RPL_LISTSTART = "321";
    /// `<client> <channel> <client count> :<topic>`: one LIST entry.
    RPL_LIST = "322";
    /// `<client> :End of /LIST`.
    RPL_LISTEND = "323";
    /// `<client> <channel> <modestring> <mode arguments>...`: reply to `MODE <channel>`.
    RPL_CHANNELMODEIS = "324";
    /// `<client> <channel> <creationtime>`: when the channel was created (Unix seconds).
    RPL_CREATIONTIME = "329";
    /// `<client> <nick> <account> :is logged in as`: WHOIS, the user's account.
    RPL_WHOISACCOUNT = "330";
    /// `<client> <channel> :No topic is set`.
    RPL_NOTOPIC = "331";
    /// `<client> <channel> :<topic>`.
    RPL_TOPIC = "332";
    /// `<client> <channel> <nick> <setat>`: who set the topic and when (Unix seconds).
    RPL_TOPICWHOTIME = "333";
    /// `<client> <nick> :is a bot`: WHOIS, the user set the bot mode.
    RPL_WHOISBOT = "335";
    /// `<client> <channel>`: one channel one is invited to (bare `INVITE`).
    RPL_INVITELIST = "336";
    /// `<client> :End of /INVITE list`.
    RPL_ENDOFINVITELIST = "337";
    /// `<client> <nick> <channel>`: the invite was sent.
    RPL_INVITING = "341";
    /// `<client> <channel> <mask> [<who> <set-ts>]`: one ban-exception entry.
    RPL_EXCEPTLIST = "348";
    /// `<client> <channel> :End of channel exception list`.
    RPL_ENDOFEXCEPTLIST = "349";
    /// `<client> <version> <server> :<comments>`: reply to VERSION.
    RPL_VERSION = "351";
    /// `<client> <channel> <username> <host> <server> <nick> <flags> :<hopcount> <realname>`: one WHO entry.
    RPL_WHOREPLY = "352";
    /// `<client> <symbol> <channel> :[prefix]<nick>{ [prefix]<nick>}`: a line of NAMES.
    RPL_NAMREPLY = "353";
    /// `<client> [token] <fields...>`: one WHOX entry (`WHO <mask> %<fields>`).
    RPL_WHOSPCRPL = "354";
    /// `<client> * <server> :<hopcount> <server info>`: one server (LINKS).
    RPL_LINKS = "364";
    /// `<client> * :End of /LINKS list`.
    RPL_ENDOFLINKS = "365";
    /// `<client> <channel> :End of /NAMES list`.
    RPL_ENDOFNAMES = "366";
    /// `<client> <channel> <mask> [<who> <set-ts>]`: one ban-list entry
    /// (clients ask with `MODE <channel> b` on join).
    RPL_BANLIST = "367";
    /// `<client> <channel> :End of channel ban list`.
    RPL_ENDOFBANLIST = "368";
    /// `<client> <nick> :End of WHOWAS`.
    RPL_ENDOFWHOWAS = "369";
    /// `<client> :<string>`: a line of INFO.
    RPL_INFO = "371";
    /// `<client> :<line of the motd>`.
    RPL_MOTD = "372";
    /// `<client> :End of INFO list`.
    RPL_ENDOFINFO = "374";
    /// `<client> :- <server> Message of the day - `.
    RPL_MOTDSTART = "375";
    /// `<client> :End of /MOTD command.`
    RPL_ENDOFMOTD = "376";
    /// `<client> :You are now an IRC operator`.
    RPL_YOUREOPER = "381";
    /// `<client> <server> [<timestamp> [<TS offset>]] :<human-readable time>`: reply to TIME.
    RPL_TIME = "391";
    /// `<client> <host> :is now your displayed host`: an operator changed
    /// the host others see (CHGHOST).
    RPL_VISIBLEHOST = "396";
    /// `<client> <command>{ <subcommand>} :<info>`: a request the server
    /// understood but cannot carry out as asked (an unknown subcommand).
    ERR_UNKNOWNERROR = "400";
    /// `<client> <nickname> :No such nick/channel`.
    ERR_NOSUCHNICK = "401";
    /// `<client> <server name> :No such server`: a query named another server.
    ERR_NOSUCHSERVER = "402";
    /// `<client> <channel> :No such channel`.
    ERR_NOSUCHCHANNEL = "403";
    /// `<client> <channel> :Cannot send to channel`.
    ERR_CANNOTSENDTOCHAN = "404";
    /// `<client> <channel> :You have joined too many channels`.
    ERR_TOOMANYCHANNELS = "405";
    /// `<client> <nickname> :There was no such nickname`: WHOWAS knows nobody by that name.
    ERR_WASNOSUCHNICK = "406";
    /// `<client> :No origin specified`: PING or PONG without a token (RFC 2812).
    ERR_NOORIGIN = "409";
    /// `<client> <subcommand> :Invalid CAP command`.
    ERR_INVALIDCAPCMD = "410";
    /// `<client> :No recipient given (<command>)`: PRIVMSG/NOTICE without a target.
    ERR_NORECIPIENT = "411";
    /// `<client> :No text to send`: PRIVMSG/NOTICE without text.
    ERR_NOTEXTTOSEND = "412";
    /// `<client> :Input line was too long`: over 512 bytes, or too many tag bytes (IRCv3).
    ERR_INPUTTOOLONG = "417";
    /// `<client> <command> :Unknown command`.
    ERR_UNKNOWNCOMMAND = "421";
    /// `<client> :MOTD File is missing`.
    ERR_NOMOTD = "422";
    /// `<client> :No nickname given`: NICK or WHOIS without a nickname.
    ERR_NONICKNAMEGIVEN = "431";
    /// `<client> <nick> :Erroneus nickname` (sic): the nickname breaks the rules.
    ERR_ERRONEUSNICKNAME = "432";
    /// `<client> <nick> :Nickname is already in use`.
    ERR_NICKNAMEINUSE = "433";
    /// `<client> <nick/channel> :Nick/channel is temporarily unavailable`.
    ERR_UNAVAILRESOURCE = "437";
    /// `<client> <nick> <channel> :They aren't on that channel`.
    ERR_USERNOTINCHANNEL = "441";
    /// `<client> <channel> :You're not on that channel`.
    ERR_NOTONCHANNEL = "442";
    /// `<client> <nick> <channel> :is already on channel`.
    ERR_USERONCHANNEL = "443";
    /// `<client> :You have not registered`: a command that needs registration came before it.
    ERR_NOTREGISTERED = "451";
    /// `<client> <command> :Not enough parameters`.
    ERR_NEEDMOREPARAMS = "461";
    /// `<client> :You may not reregister`: PASS or USER after registration.
    ERR_ALREADYREGISTERED = "462";
    /// `<client> :Password incorrect`.
    ERR_PASSWDMISMATCH = "464";
    /// `<client> :You are banned from this server.`
    ERR_YOUREBANNEDCREEP = "465";
    /// `<client> <channel> :Cannot join channel (+l)`.
    ERR_CHANNELISFULL = "471";
    /// `<client> <modechar> :is unknown mode char to me`.
    ERR_UNKNOWNMODE = "472";
    /// `<client> <channel> :Cannot join channel (+i)`.
    ERR_INVITEONLYCHAN = "473";
    /// `<client> <channel> :Cannot join channel (+b)`.
    ERR_BANNEDFROMCHAN = "474";
    /// `<client> <channel> :Cannot join channel (+k)`.
    ERR_BADCHANNELKEY = "475";
    /// `<client> <channel> <char> :Channel list is full`.
    ERR_BANLISTFULL = "478";
    /// `<client> :Permission Denied- You're not an IRC operator`.
    ERR_NOPRIVILEGES = "481";
    /// `<client> <channel> :You're not channel operator`.
    ERR_CHANOPRIVSNEEDED = "482";
    /// `<client> :Unknown MODE flag`: a user mode the server does not know.
    ERR_UMODEUNKNOWNFLAG = "501";
    /// `<client> :Cant change mode for other users`.
    ERR_USERSDONTMATCH = "502";
    /// `<client> <target> <mode char> <parameter> :<description>`: a mode's
    /// parameter is not usable (a limit that is not a number).
    ERR_INVALIDMODEPARAM = "696";
    /// `<client> :target[!user@host][,target[!user@host]]*`: monitored
    /// nicknames that are online (MONITOR).
    RPL_MONONLINE = "730";
    /// `<client> :target[,target]*`: monitored nicknames that are offline.
    RPL_MONOFFLINE = "731";
    /// `<client> :target[,target]*`: the monitor list (`MONITOR L`).
    RPL_MONLIST = "732";
    /// `<client> :End of MONITOR list`.
    RPL_ENDOFMONLIST = "733";
    /// `<client> <limit> <targets> :Monitor list is full.`
    ERR_MONLISTFULL = "734";
    /// `<client> <nick>!<user>@<host> <account> :You are now logged in as <account>`.
    RPL_LOGGEDIN = "900";
    /// `<client> :SASL authentication successful`.
    RPL_SASLSUCCESS = "903";
    /// `<client> :SASL authentication failed`.
    ERR_SASLFAIL = "904";
    /// `<client> :SASL message too long`.
    ERR_SASLTOOLONG = "905";
    /// `<client> :SASL authentication aborted`.
    ERR_SASLABORTED = "906";
    /// `<client> :You have already authenticated using SASL`.
    ERR_SASLALREADY = "907";
    /// `<client> <mechanisms> :are available SASL mechanisms`.
    RPL_SASLMECHS = "908";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_three_digits_unique_and_ordered() {
        let mut seen = HashSet::new();
        for pair in ALL.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} before {}",
                pair[0],
                pair[1]
            );
        }
        for n in ALL {
            assert_eq!(n.code.len(), 3, "{n}");
            assert!(n.code.bytes().all(|b| b.is_ascii_digit()), "{n}");
            assert!(seen.insert(n.name), "{n}");
            assert!(
                n.name.starts_with("RPL_") || n.name.starts_with("ERR_"),
                "{n}"
            );
        }
    }

    #[test]
    fn numbers_match_the_specifications() {
        // Spot checks against RFC 2812 / modern.ircdocs.horse.
        for (numeric, code) in [
            (RPL_WELCOME, "001"),
            (RPL_ISUPPORT, "005"),
            (RPL_UMODEIS, "221"),
            (RPL_TOPICWHOTIME, "333"),
            (RPL_NAMREPLY, "353"),
            (RPL_ENDOFNAMES, "366"),
            (ERR_INVALIDCAPCMD, "410"),
            (ERR_INPUTTOOLONG, "417"),
            (ERR_NOTREGISTERED, "451"),
            (ERR_NEEDMOREPARAMS, "461"),
            (ERR_ALREADYREGISTERED, "462"),
            (ERR_CHANOPRIVSNEEDED, "482"),
            (RPL_WHOISCERTFP, "276"),
        ] {
            assert_eq!(numeric.code(), code, "{numeric}");
        }
    }

    #[test]
    fn lookup_by_code() {
        assert_eq!(by_code("433"), Some(ERR_NICKNAMEINUSE));
        assert_eq!(by_code("433").map(Numeric::name), Some("ERR_NICKNAMEINUSE"));
        assert_eq!(by_code("999"), None);
    }
}
