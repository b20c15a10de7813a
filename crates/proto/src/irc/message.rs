//! One IRC message: parsing a received line and encoding a line to send.
//!
//! The grammar is RFC 1459/2812 section 2.3.1 as restated by
//! modern.ircdocs.horse, plus the IRCv3 message-tags prefix:
//!
//! ```text
//! message = [ "@" tags SPACE ] [ ":" source SPACE ] command params
//! ```
//!
//! Parts are separated by one or more spaces. At most [`MAX_PARAMS`]
//! parameters: after the fourteenth, the rest of the line is the fifteenth,
//! with or without a leading `:` (RFC 2812's rule, so a sixteenth never
//! exists). [`parse`] works on the bytes of one line without its terminator
//! and never panics; [`Message::encode`] always produces exactly one line.
//! Length limits are the framer's business ([`crate::irc::IrcFramer`]).

use std::borrow::Cow;
use std::collections::HashMap;

use thiserror::Error;

/// The most parameters a message has (RFC 2812: 14 middle plus one trailing).
pub const MAX_PARAMS: usize = 15;

/// One IRCv3 message tag. Tag values are stored unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The key, e.g. `time`, `msgid` or the client-only `+typing`.
    pub key: String,
    /// The value; `None` when the tag has none. An empty value on the wire
    /// (`key=`) means the same as no value (IRCv3), so parsing gives `None`.
    pub value: Option<String>,
}

impl Tag {
    /// A tag with the given key and value.
    pub fn new(key: impl Into<String>, value: Option<String>) -> Self {
        Tag {
            key: key.into(),
            value,
        }
    }

    /// Whether this is a client-only tag (key starting with `+`): the only
    /// kind a server may relay from one client to others.
    pub fn is_client_only(&self) -> bool {
        self.key.starts_with('+')
    }
}

/// Where a message comes from: `nick!user@host` or a server name.
///
/// Parsed like most implementations do: the host is everything after the
/// first `@`, the user everything after the first `!` before that, and the
/// name the rest. A server name is simply a name with neither part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The nickname, or the server name.
    pub name: String,
    /// The user name (ident), if given.
    pub user: Option<String>,
    /// The host, if given.
    pub host: Option<String>,
}

impl Source {
    /// A server as the source, e.g. `irc.example.org`.
    pub fn server(name: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            user: None,
            host: None,
        }
    }

    /// A user as the source: `nick!user@host`.
    pub fn user(nick: impl Into<String>, user: impl Into<String>, host: impl Into<String>) -> Self {
        Source {
            name: nick.into(),
            user: Some(user.into()),
            host: Some(host.into()),
        }
    }

    /// Splits the text of a source (without the leading `:`) into its parts.
    pub fn parse(text: &str) -> Self {
        let (rest, host) = match text.split_once('@') {
            Some((rest, host)) => (rest, Some(host.to_owned())),
            None => (text, None),
        };
        let (name, user) = match rest.split_once('!') {
            Some((name, user)) => (name, Some(user.to_owned())),
            None => (rest, None),
        };
        Source {
            name: name.to_owned(),
            user,
            host,
        }
    }

    /// Appends the wire form (`name[!user][@host]`, without the `:`), leaving
    /// out bytes that cannot appear in a source (space, NUL, CR, LF).
    fn write(&self, out: &mut Vec<u8>) {
        push_token(out, &self.name);
        if let Some(user) = &self.user {
            out.push(b'!');
            push_token(out, user);
        }
        if let Some(host) = &self.host {
            out.push(b'@');
            push_token(out, host);
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = Vec::new();
        self.write(&mut out);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

/// One IRC message.
///
/// The fields are plain data so that the server can build and inspect
/// messages freely; [`Message::encode`] keeps the line well-formed whatever
/// they hold (see there).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// IRCv3 tags, in the order they appeared (a repeated key keeps only its
    /// last occurrence, as the spec asks).
    pub tags: Vec<Tag>,
    /// The source (prefix), if any.
    pub source: Option<Source>,
    /// The command, in upper case (`PRIVMSG`), or a three-digit numeric (`001`).
    pub command: String,
    /// The parameters, at most [`MAX_PARAMS`], without the `:` of a trailing one.
    pub params: Vec<String>,
    /// Whether the last parameter was (or is to be) written with a leading
    /// `:`. Parsing sets it when the `:` was there (or, for a fifteenth
    /// parameter sent without one, when it would have needed it); encoding
    /// writes the `:` when this is set or when the parameter needs it
    /// (empty, contains a space, starts with `:`).
    pub trailing: bool,
}

impl Message {
    /// A message with just a command (give it in upper case).
    pub fn new(command: impl Into<String>) -> Self {
        Message {
            command: command.into(),
            ..Message::default()
        }
    }

    /// A numeric reply from the server `server` to `client` (a nickname, or
    /// `*` before registration), e.g. `:irc.example 461 bob ...`; add the
    /// remaining parameters with [`Message::param`] and
    /// [`Message::trailing_param`].
    pub fn numeric(server: &str, numeric: super::Numeric, client: &str) -> Self {
        Message::new(numeric.code())
            .with_source(Source::server(server))
            .param(client)
    }

    /// Sets the source.
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }

    /// Adds a tag (an empty value is stored as no value).
    pub fn with_tag(mut self, key: impl Into<String>, value: Option<&str>) -> Self {
        let value = value.filter(|v| !v.is_empty()).map(str::to_owned);
        self.tags.push(Tag::new(key, value));
        self
    }

    /// Adds a parameter.
    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.params.push(param.into());
        self
    }

    /// Adds a last parameter that is always written with a leading `:` (for
    /// human-readable text, which clients expect in that form).
    pub fn trailing_param(mut self, param: impl Into<String>) -> Self {
        self.params.push(param.into());
        self.trailing = true;
        self
    }

    /// The value of the tag `key`: `None` when absent, `Some(None)` when
    /// present without a value.
    pub fn tag(&self, key: &str) -> Option<Option<&str>> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_deref())
    }

    /// Parameter `index`, if there is one.
    pub fn arg(&self, index: usize) -> Option<&str> {
        self.params.get(index).map(String::as_str)
    }

    /// The line to send: tags, source, command, parameters and `\r\n`.
    ///
    /// The result is always exactly one line, whatever the fields hold, so
    /// no field can smuggle in a second command:
    /// - NUL, CR and LF in parameters become spaces; in the source and the
    ///   command they are dropped, as are spaces there;
    /// - tags with a key that is not a valid tag key are left out; tag
    ///   values are escaped (a NUL, which has no escape, is dropped);
    /// - a parameter other than the last that cannot be written without a
    ///   `:` (empty, with a space, starting with `:`) is written as `*`,
    ///   like [`safe_param`];
    /// - parameters past the fifteenth are joined with spaces into the
    ///   fifteenth, which is how a receiver would read them anyway.
    ///
    /// For a message that needs none of these repairs (every message
    /// [`parse`] returns is one), `parse(encode(m)) == m`. The 512-byte limit
    /// is not applied here: split long text with
    /// [`crate::irc::fit_text`].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded line (see [`Message::encode`]) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.write_tags(out);
        self.write_body(out);
        out.extend_from_slice(b"\r\n");
    }

    /// Bytes of the encoded line without its tags, `\r\n` included: the
    /// part the 512-byte limit applies to.
    pub fn body_len(&self) -> usize {
        let mut out = Vec::with_capacity(64);
        self.write_body(&mut out);
        out.len() + 2
    }

    /// The message cut down to fit the 512-byte line limit: the longest
    /// parameter is shortened (at a character boundary) until the line
    /// without its tags fits. For replies that echo something a client sent
    /// (a token, a nickname, a command), which can be arbitrarily long.
    pub fn fit(mut self) -> Message {
        let limit = super::MAX_LINE_BYTES;
        loop {
            let excess = self.body_len().saturating_sub(limit);
            if excess == 0 {
                return self;
            }
            let Some(longest) = self.params.iter_mut().max_by_key(|p| p.len()) else {
                return self;
            };
            if longest.is_empty() {
                return self;
            }
            let mut keep = longest.len().saturating_sub(excess);
            while !longest.is_char_boundary(keep) {
                keep -= 1;
            }
            longest.truncate(keep);
        }
    }

    fn write_tags(&self, out: &mut Vec<u8>) {
        let mut first = true;
        for tag in self.tags.iter().filter(|t| valid_tag_key(&t.key)) {
            out.push(if first { b'@' } else { b';' });
            first = false;
            out.extend_from_slice(tag.key.as_bytes());
            if let Some(value) = tag.value.as_deref().filter(|v| !v.is_empty()) {
                out.push(b'=');
                out.extend_from_slice(escape_tag_value(value).as_bytes());
            }
        }
        if !first {
            out.push(b' ');
        }
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        if let Some(source) = &self.source {
            let start = out.len();
            out.push(b':');
            source.write(out);
            if out.len() == start + 1 {
                // Nothing writable: leave the source out.
                out.truncate(start);
            } else {
                out.push(b' ');
            }
        }
        push_token(out, &self.command);
        let count = self.params.len().min(MAX_PARAMS);
        for (index, param) in self.params.iter().take(count).enumerate() {
            out.push(b' ');
            if index + 1 < count {
                out.extend_from_slice(safe_param(&clean_param(param)).as_bytes());
                continue;
            }
            let last = if self.params.len() > MAX_PARAMS {
                Cow::Owned(self.params[index..].join(" "))
            } else {
                Cow::Borrowed(param.as_str())
            };
            let last = clean_param(&last);
            if self.trailing || needs_trailing(&last) {
                out.push(b':');
            }
            out.extend_from_slice(last.as_bytes());
        }
    }
}

/// Why a line is not a usable message. Every variant leaves the connection
/// usable: the server answers (or ignores) and reads the next line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The line is empty or only spaces; RFC 2812 says to ignore it silently.
    #[error("empty line")]
    Empty,
    /// The line contains NUL (or a CR or LF, which a framed line cannot).
    #[error("line contains the forbidden byte {0:#04x}")]
    ForbiddenByte(u8),
    /// Tags or a source but no command.
    #[error("line has no command")]
    MissingCommand,
    /// A `:` with no source after it.
    #[error("line has an empty source")]
    EmptySource,
    /// The command is neither letters nor a three-digit numeric; the token
    /// is given as sent (invalid UTF-8 replaced), for an
    /// `ERR_UNKNOWNCOMMAND` reply.
    #[error("{0:?} is not a command")]
    InvalidCommand(String),
    /// The line is not valid UTF-8 (anywhere: tags, source or parameters).
    /// The command could still be read, so the server can say which
    /// command it refused.
    #[error("{command} line is not valid UTF-8")]
    InvalidUtf8 {
        /// The line's command, in upper case.
        command: String,
    },
}

/// Parses one line (without its CR/LF terminator).
pub fn parse(line: &[u8]) -> Result<Message, ParseError> {
    if let Some(&byte) = line.iter().find(|&&b| matches!(b, 0 | b'\r' | b'\n')) {
        return Err(ParseError::ForbiddenByte(byte));
    }
    let head = split_head(line)?;
    let command = command_name(&line[head.command.0..head.command.1])?;
    let Ok(text) = std::str::from_utf8(line) else {
        return Err(ParseError::InvalidUtf8 { command });
    };
    // Every boundary below is at an ASCII byte, hence a character boundary;
    // `get` keeps that an assumption that cannot panic.
    let part = |(start, end): (usize, usize)| text.get(start..end).unwrap_or_default();
    let tags = head
        .tags
        .map(|range| parse_tags(part(range)))
        .unwrap_or_default();
    let source = head.source.map(|range| Source::parse(part(range)));
    let (params, trailing) = parse_params(text.get(head.command.1..).unwrap_or_default());
    Ok(Message {
        tags,
        source,
        command,
        params,
        trailing,
    })
}

/// Byte ranges of the parts before the parameters.
struct Head {
    tags: Option<(usize, usize)>,
    source: Option<(usize, usize)>,
    command: (usize, usize),
}

fn split_head(line: &[u8]) -> Result<Head, ParseError> {
    let mut pos = 0;
    let mut tags = None;
    if line.first() == Some(&b'@') {
        let end = find_space(line, 1).ok_or(ParseError::MissingCommand)?;
        tags = Some((1, end));
        pos = end;
    }
    pos = skip_spaces(line, pos);
    if pos == line.len() {
        return Err(if tags.is_some() {
            ParseError::MissingCommand
        } else {
            ParseError::Empty
        });
    }
    let mut source = None;
    if line[pos] == b':' {
        let end = find_space(line, pos + 1).ok_or(ParseError::MissingCommand)?;
        if end == pos + 1 {
            return Err(ParseError::EmptySource);
        }
        source = Some((pos + 1, end));
        pos = skip_spaces(line, end);
        if pos == line.len() {
            return Err(ParseError::MissingCommand);
        }
    }
    let end = find_space(line, pos).unwrap_or(line.len());
    Ok(Head {
        tags,
        source,
        command: (pos, end),
    })
}

fn find_space(line: &[u8], from: usize) -> Option<usize> {
    line.get(from..)?
        .iter()
        .position(|&b| b == b' ')
        .map(|i| from + i)
}

fn skip_spaces(line: &[u8], from: usize) -> usize {
    from + line
        .get(from..)
        .map_or(0, |rest| rest.iter().take_while(|&&b| b == b' ').count())
}

/// Checks the command token and upper-cases it: exactly three digits, or a
/// word of letters, digits and `_` starting with a letter. The grammar says
/// letters only; a word like `NO_SUCH_COMMAND` is read anyway so that the
/// server can answer it as an unknown command, with its tags (a label)
/// honoured, as other servers do.
fn command_name(token: &[u8]) -> Result<String, ParseError> {
    let letters = token.first().is_some_and(u8::is_ascii_alphabetic)
        && token
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    let numeric = token.len() == 3 && token.iter().all(u8::is_ascii_digit);
    if letters || numeric {
        Ok(String::from_utf8_lossy(token).to_ascii_uppercase())
    } else {
        Err(ParseError::InvalidCommand(
            String::from_utf8_lossy(token).into_owned(),
        ))
    }
}

/// Splits the parameters; `rest` starts right after the command.
fn parse_params(mut rest: &str) -> (Vec<String>, bool) {
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            return (params, false);
        }
        if params.len() == MAX_PARAMS - 1 {
            // RFC 2812: after 14 middle parameters the rest of the line is
            // the last one, its `:` optional. A `:` it would need is noted
            // as if it had been sent, so that re-encoding reads back the same.
            let param = rest.strip_prefix(':').unwrap_or(rest);
            let trailing = rest.starts_with(':') || needs_trailing(param);
            params.push(param.to_owned());
            return (params, trailing);
        }
        if let Some(text) = rest.strip_prefix(':') {
            params.push(text.to_owned());
            return (params, true);
        }
        let (param, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        params.push(param.to_owned());
        rest = tail;
    }
}

/// Splits the tag section (without `@`). Tags with an invalid key are
/// ignored (the spec forbids rejecting the message for them); for a
/// repeated key only the last occurrence is kept.
fn parse_tags(section: &str) -> Vec<Tag> {
    let mut tags: Vec<Tag> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for item in section.split(';') {
        let (key, raw) = item.split_once('=').unwrap_or((item, ""));
        if !valid_tag_key(key) {
            continue;
        }
        let value = Some(unescape_tag_value(raw)).filter(|v| !v.is_empty());
        if let Some(&index) = seen.get(key) {
            tags[index].value = None;
            tags[index].key.clear();
        }
        seen.insert(key, tags.len());
        tags.push(Tag::new(key, value));
    }
    tags.retain(|t| !t.key.is_empty());
    tags
}

/// Whether `key` is a well-formed tag key: an optional `+`, then letters,
/// digits, `-`, and the `.` and `/` of a vendor prefix (as leniently as
/// ergo reads them).
fn valid_tag_key(key: &str) -> bool {
    let name = key.strip_prefix('+').unwrap_or(key);
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'/'))
}

/// Escapes a tag value for the wire (IRCv3): `;` → `\:`, space → `\s`,
/// `\` → `\\`, CR → `\r`, LF → `\n`. NUL has no escape and is dropped.
pub fn escape_tag_value(value: &str) -> Cow<'_, str> {
    if !value.contains([';', ' ', '\\', '\r', '\n', '\0']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\0' => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Undoes [`escape_tag_value`]. As the spec says, a backslash before any
/// other character is dropped (`\b` → `b`) and a lone trailing backslash
/// yields nothing.
pub fn unescape_tag_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Whether a last parameter must be written with a leading `:`.
fn needs_trailing(param: &str) -> bool {
    param.is_empty() || param.starts_with(':') || param.contains(' ')
}

/// `param` if it can be sent as a parameter other than the last, otherwise
/// `*`. Use it when echoing a client's token back in the middle of a reply
/// (e.g. an empty channel name from `JOIN #a,,#b` in `403`).
pub fn safe_param(param: &str) -> &str {
    if needs_trailing(param) || param.contains(['\0', '\r', '\n']) {
        "*"
    } else {
        param
    }
}

/// Replaces the bytes no line may contain (NUL, CR, LF) with spaces.
fn clean_param(param: &str) -> Cow<'_, str> {
    if param.contains(['\0', '\r', '\n']) {
        Cow::Owned(param.replace(['\0', '\r', '\n'], " "))
    } else {
        Cow::Borrowed(param)
    }
}

/// Bytes that end a source or command token.
fn is_token_break(b: u8) -> bool {
    matches!(b, 0 | b'\r' | b'\n' | b' ')
}

/// Appends `text` without the bytes that would end a token early.
fn push_token(out: &mut Vec<u8>, text: &str) {
    out.extend(text.bytes().filter(|&b| !is_token_break(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_shortens_the_longest_parameter_to_the_line_limit() {
        let token = "é".repeat(400);
        let m = Message::new("PONG")
            .param("chatroom")
            .trailing_param(token.clone())
            .fit();
        assert!(
            m.body_len() <= super::super::MAX_LINE_BYTES,
            "{}",
            m.body_len()
        );
        assert!(token.starts_with(&m.params[1]));
        assert!(m.params[1].len() > 400, "only the excess is cut");
        let short = Message::new("PONG").param("chatroom").trailing_param("x");
        assert_eq!(short.clone().fit(), short);
    }
    use proptest::prelude::*;

    fn ok(line: &str) -> Message {
        parse(line.as_bytes()).unwrap()
    }

    fn params(line: &str) -> Vec<String> {
        ok(line).params
    }

    fn encoded(m: &Message) -> String {
        String::from_utf8(m.encode()).unwrap()
    }

    #[test]
    fn rfc_examples() {
        let m = ok(":WiZ!jto@tolsun.oulu.fi NICK Kilroy");
        assert_eq!(m.source, Some(Source::user("WiZ", "jto", "tolsun.oulu.fi")));
        assert_eq!(m.command, "NICK");
        assert_eq!(m.params, ["Kilroy"]);
        assert!(!m.trailing);

        let m = ok("USER guest 0 * :Ronnie Reagan");
        assert_eq!(m.source, None);
        assert_eq!(m.params, ["guest", "0", "*", "Ronnie Reagan"]);
        assert!(m.trailing);

        assert_eq!(
            params("PRIVMSG Angel :yes I'm receiving it !"),
            ["Angel", "yes I'm receiving it !"]
        );
        assert_eq!(
            params("JOIN #foo,#bar fubar,foobar"),
            ["#foo,#bar", "fubar,foobar"]
        );
        assert_eq!(
            params("MODE #Finnish +imI *!*@*.fi"),
            ["#Finnish", "+imI", "*!*@*.fi"]
        );
        assert_eq!(params("KICK &Melbourne Matthew"), ["&Melbourne", "Matthew"]);
        let m = ok(":irc.example.com CAP * LIST :");
        assert_eq!(m.source, Some(Source::server("irc.example.com")));
        assert_eq!(m.params, ["*", "LIST", ""]);
    }

    #[test]
    fn modern_examples_of_trailing() {
        assert_eq!(params("PRIVMSG #chan :Hey!"), ["#chan", "Hey!"]);
        assert_eq!(params("PRIVMSG #chan Hey!"), ["#chan", "Hey!"]);
        assert_eq!(params("PRIVMSG #chan ::-)"), ["#chan", ":-)"]);
        assert_eq!(
            params("CAP REQ :sasl message-tags foo"),
            ["REQ", "sasl message-tags foo"]
        );
        // Colons inside middle parameters are ordinary characters.
        assert_eq!(params("PRIVMSG a:b :c:d :e"), ["a:b", "c:d :e"]);
    }

    #[test]
    fn command_is_uppercased_and_numerics_kept() {
        assert_eq!(ok("privmsg #a b").command, "PRIVMSG");
        assert_eq!(ok(":srv 001 bob :Welcome").command, "001");
        assert_eq!(
            ok(":srv 005 bob A B :are supported").params,
            ["bob", "A", "B", "are supported"]
        );
    }

    #[test]
    fn invalid_commands_are_named() {
        assert_eq!(parse(b"12 x"), Err(ParseError::InvalidCommand("12".into())));
        assert_eq!(
            parse(b"1234"),
            Err(ParseError::InvalidCommand("1234".into()))
        );
        assert_eq!(
            parse(b"/join #a"),
            Err(ParseError::InvalidCommand("/join".into()))
        );
        assert_eq!(
            parse(b"_PRIVMSG"),
            Err(ParseError::InvalidCommand("_PRIVMSG".into()))
        );
        assert_eq!(
            parse(b"priv_msg2 x").map(|m| m.command),
            Ok("PRIV_MSG2".to_owned()),
            "a word: an unknown command for the server to answer"
        );
        assert_eq!(
            parse(b"J\xffOIN #a"),
            Err(ParseError::InvalidCommand("J\u{fffd}OIN".into()))
        );
    }

    #[test]
    fn several_spaces_separate_parts() {
        let m = ok("@a=1    :nick!u@h    PRIVMSG   #chan    :hi  there ");
        assert_eq!(m.tag("a"), Some(Some("1")));
        assert_eq!(m.source.as_ref().map(|s| s.name.as_str()), Some("nick"));
        assert_eq!(m.params, ["#chan", "hi  there "]);
        assert_eq!(params("  NICK   bob   "), ["bob"]);
    }

    #[test]
    fn empty_trailing_and_no_params() {
        let m = ok("AWAY :");
        assert_eq!(m.params, [""]);
        assert!(m.trailing);
        let m = ok("AWAY");
        assert!(m.params.is_empty());
        assert!(!m.trailing);
        assert_eq!(encoded(&Message::new("AWAY").param("")), "AWAY :\r\n");
    }

    #[test]
    fn fifteen_params_at_most() {
        let line = format!(
            "CMD {} x y :z",
            (1..=13)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let m = ok(&line);
        assert_eq!(m.params.len(), 15);
        assert_eq!(m.params[13], "x");
        assert_eq!(m.params[14], "y :z");
        assert!(m.trailing);
        let line = format!(
            "CMD {} x y",
            (1..=13)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert!(!ok(&line).trailing);
        // The 15th may still carry its colon, which is stripped.
        let line = format!(
            "CMD {} ::a b",
            (1..=14)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let m = ok(&line);
        assert_eq!(m.params[14], ":a b");
        assert!(m.trailing);
    }

    #[test]
    fn sixteen_params_encode_as_fifteen() {
        let mut m = Message::new("CMD");
        m.params = (1..=16).map(|i| i.to_string()).collect();
        let line = encoded(&m);
        assert!(line.ends_with(" 14 :15 16\r\n"), "{line}");
        assert_eq!(ok(line.trim_end()).params.len(), 15);
    }

    #[test]
    fn tags_parse_unescape_and_keep_order() {
        let m = ok(
            r"@aaa=bbb;ccc;example.com/ddd=eee;+fff=a\sb\:c\\d\re\nf :nick!u@h PRIVMSG me :Hello",
        );
        let keys: Vec<_> = m.tags.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["aaa", "ccc", "example.com/ddd", "+fff"]);
        assert_eq!(m.tag("aaa"), Some(Some("bbb")));
        assert_eq!(m.tag("ccc"), Some(None));
        assert_eq!(m.tag("+fff"), Some(Some("a b;c\\d\re\nf")));
        assert!(m.tags[3].is_client_only());
        assert!(!m.tags[0].is_client_only());
        assert_eq!(m.tag("zzz"), None);
    }

    #[test]
    fn tag_edge_cases() {
        // Empty value means no value; unknown escapes drop the backslash; a
        // lone trailing backslash disappears.
        let m = ok(r"@a=;b=x\y;c=end\ PING x");
        assert_eq!(m.tag("a"), Some(None));
        assert_eq!(m.tag("b"), Some(Some("xy")));
        assert_eq!(m.tag("c"), Some(Some("end")));
        // Repeated keys: the last one wins.
        let m = ok("@a=1;b=2;a=3 PING x");
        assert_eq!(
            m.tags,
            [
                Tag::new("b", Some("2".into())),
                Tag::new("a", Some("3".into()))
            ]
        );
        // Invalid keys are ignored, not fatal; empty items too.
        let m = ok("@=x;;ok=1;bad!key=2;+=3 PING x");
        assert_eq!(m.tags, [Tag::new("ok", Some("1".into()))]);
        // An empty tag section is allowed.
        assert!(ok("@ PING x").tags.is_empty());
        // Raw characters that need no escaping (spec example).
        let m = ok(r"@+example=raw+:=,escaped\:\s\\ NOTICE #channel :Message");
        assert_eq!(m.tag("+example"), Some(Some("raw+:=,escaped; \\")));
    }

    #[test]
    fn tag_escaping_round_trips() {
        let value = "semi;space \\back\rcr\nlf";
        assert_eq!(escape_tag_value(value), r"semi\:space\s\\back\rcr\nlf");
        assert_eq!(unescape_tag_value(&escape_tag_value(value)), value);
        assert!(matches!(escape_tag_value("plain"), Cow::Borrowed("plain")));
        assert_eq!(escape_tag_value("a\0b"), "ab");
    }

    #[test]
    fn sources() {
        assert_eq!(
            Source::parse("irc.example.org"),
            Source::server("irc.example.org")
        );
        assert_eq!(
            Source::parse("nick@host"),
            Source {
                name: "nick".into(),
                user: None,
                host: Some("host".into())
            }
        );
        assert_eq!(
            Source::parse("nick!user"),
            Source {
                name: "nick".into(),
                user: Some("user".into()),
                host: None
            }
        );
        assert_eq!(
            Source::parse("a!b!c@d@e"),
            Source {
                name: "a".into(),
                user: Some("b!c".into()),
                host: Some("d@e".into())
            }
        );
        assert_eq!(Source::user("n", "u", "h").to_string(), "n!u@h");
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(parse(b""), Err(ParseError::Empty));
        assert_eq!(parse(b"    "), Err(ParseError::Empty));
        assert_eq!(parse(b"@a=b"), Err(ParseError::MissingCommand));
        assert_eq!(parse(b"@a=b   "), Err(ParseError::MissingCommand));
        assert_eq!(parse(b":nick"), Err(ParseError::MissingCommand));
        assert_eq!(parse(b":nick   "), Err(ParseError::MissingCommand));
        assert_eq!(parse(b"@a :nick "), Err(ParseError::MissingCommand));
        assert_eq!(parse(b": PRIVMSG x"), Err(ParseError::EmptySource));
        assert_eq!(
            parse(b"PRIVMSG #a :hi\0there"),
            Err(ParseError::ForbiddenByte(0))
        );
        assert_eq!(
            parse(b"PRIVMSG #a :hi\rthere"),
            Err(ParseError::ForbiddenByte(b'\r'))
        );
        assert_eq!(parse(b"PING x\n"), Err(ParseError::ForbiddenByte(b'\n')));
    }

    #[test]
    fn non_utf8_is_an_error_naming_the_command() {
        assert_eq!(
            parse(b"privmsg #a :caf\xe9"),
            Err(ParseError::InvalidUtf8 {
                command: "PRIVMSG".into()
            })
        );
        assert_eq!(
            parse(b"@t=\xff :n\xff!u@h NOTICE x y"),
            Err(ParseError::InvalidUtf8 {
                command: "NOTICE".into()
            })
        );
        // UTF-8 is fine anywhere.
        assert_eq!(params("PRIVMSG #大厅 :你好 😀"), ["#大厅", "你好 😀"]);
    }

    #[test]
    fn encode_puts_colon_only_where_needed_or_asked() {
        let m = Message::new("PRIVMSG").param("#a").param("hi");
        assert_eq!(encoded(&m), "PRIVMSG #a hi\r\n");
        let m = Message::new("PRIVMSG").param("#a").param("hi there");
        assert_eq!(encoded(&m), "PRIVMSG #a :hi there\r\n");
        let m = Message::new("PRIVMSG").param("#a").param(":-)");
        assert_eq!(encoded(&m), "PRIVMSG #a ::-)\r\n");
        let m = Message::new("PRIVMSG").param("#a").trailing_param("hi");
        assert_eq!(encoded(&m), "PRIVMSG #a :hi\r\n");
        let m = Message::new("QUIT");
        assert_eq!(encoded(&m), "QUIT\r\n");
    }

    #[test]
    fn encode_full_message() {
        let m = Message::new("PRIVMSG")
            .with_tag("time", Some("2024-01-01T00:00:00.000Z"))
            .with_tag("+draft/reply", Some("a b;c"))
            .with_tag("flag", None)
            .with_source(Source::user("bob", "~b", "host"))
            .param("#lobby")
            .trailing_param("hello");
        let line = encoded(&m);
        assert_eq!(
            line,
            "@time=2024-01-01T00:00:00.000Z;+draft/reply=a\\sb\\:c;flag :bob!~b@host PRIVMSG #lobby :hello\r\n"
        );
        assert_eq!(parse(line.trim_end().as_bytes()), Ok(m.clone()));
        assert_eq!(m.body_len(), line.len() - line.find(":bob").unwrap());
    }

    #[test]
    fn numeric_constructor() {
        let m = Message::numeric("irc.local", crate::irc::numeric::ERR_NEEDMOREPARAMS, "*")
            .param("JOIN")
            .trailing_param("Not enough parameters");
        assert_eq!(
            encoded(&m),
            ":irc.local 461 * JOIN :Not enough parameters\r\n"
        );
    }

    #[test]
    fn encode_never_lets_a_field_start_a_new_line() {
        let m = Message {
            tags: vec![
                Tag::new("ok", Some("a\r\nb\0".into())),
                Tag::new("bad key", Some("x".into())),
            ],
            source: Some(Source::user("ev il", "u\r\n", "h")),
            command: "PRIV\r\nMSG".into(),
            params: vec!["#a\r\nQUIT".into(), "".into(), "x\nKILL y".into()],
            trailing: false,
        };
        assert_eq!(
            encoded(&m),
            "@ok=a\\r\\nb :evil!u@h PRIVMSG * * :x KILL y\r\n"
        );
        // A source with nothing left is left out.
        let m = Message::new("PING")
            .with_source(Source::server(" \r\n"))
            .param("x");
        assert_eq!(encoded(&m), "PING x\r\n");
        // A source with an empty name but other parts is kept as it is.
        let m = ok(":!u@h PING x");
        assert_eq!(encoded(&m), ":!u@h PING x\r\n");
    }

    #[test]
    fn safe_param_replaces_unsendable_tokens() {
        assert_eq!(safe_param("#a"), "#a");
        for bad in ["", "a b", ":x", "a\nb", "a\0"] {
            assert_eq!(safe_param(bad), "*", "{bad:?}");
        }
    }

    /// A string usable anywhere in a message part: no NUL, CR or LF.
    fn text() -> impl Strategy<Value = String> {
        "[^\\x00\\r\\n]{0,12}"
    }

    /// A token: no space either, not empty.
    fn token() -> impl Strategy<Value = String> {
        "[^\\x00\\r\\n ]{1,10}"
    }

    fn valid_message() -> impl Strategy<Value = Message> {
        let key = "\\+?([a-z0-9.-]{1,6}/)?[A-Za-z0-9-]{1,8}";
        let tags = prop::collection::btree_map(key, prop::option::of("[^\\x00]{1,10}"), 0..4)
            .prop_map(|m| {
                m.into_iter()
                    .map(|(k, v)| Tag::new(k, v))
                    .collect::<Vec<_>>()
            });
        let name = "[^\\x00\\r\\n !@]{1,8}";
        let source = prop::option::of((
            name,
            prop::option::of("[^\\x00\\r\\n @]{0,6}"),
            prop::option::of("[^\\x00\\r\\n ]{0,10}"),
        ))
        .prop_map(|s| s.map(|(name, user, host)| Source { name, user, host }));
        let command = prop_oneof!["[A-Z]{1,10}", "[0-9]{3}"];
        let middle = token().prop_filter("middle", |p| !p.starts_with(':'));
        let params = (
            prop::collection::vec(middle, 0..15),
            prop::option::of(text()),
            any::<bool>(),
        );
        (tags, source, command, params).prop_map(
            |(tags, source, command, (mut params, last, force))| {
                params.truncate(MAX_PARAMS - usize::from(last.is_some()));
                if let Some(last) = last {
                    params.push(last);
                }
                let trailing = params.last().is_some_and(|p| force || needs_trailing(p));
                Message {
                    tags,
                    source,
                    command,
                    params,
                    trailing,
                }
            },
        )
    }

    proptest! {
        #[test]
        fn encoded_messages_parse_back(m in valid_message()) {
            let line = m.encode();
            prop_assert!(line.ends_with(b"\r\n"));
            prop_assert_eq!(parse(&line[..line.len() - 2]), Ok(m));
        }

        #[test]
        fn any_message_encodes_to_one_parsable_line(
            tags in prop::collection::vec((".{0,6}", prop::option::of(".{0,6}")), 0..3),
            source in prop::option::of((".{0,6}", prop::option::of(".{0,4}"), prop::option::of(".{0,4}"))),
            command in "[A-Z]{1,8}",
            params in prop::collection::vec(".{0,8}", 0..20),
            trailing in any::<bool>(),
        ) {
            let m = Message {
                tags: tags.into_iter().map(|(k, v)| Tag::new(k, v)).collect(),
                source: source.map(|(name, user, host)| Source { name, user, host }),
                command,
                params,
                trailing,
            };
            let line = m.encode();
            let body = &line[..line.len() - 2];
            prop_assert!(line.ends_with(b"\r\n"));
            prop_assert!(!body.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')));
            let back = parse(body).unwrap();
            prop_assert_eq!(back.params.len(), m.params.len().min(MAX_PARAMS));
            prop_assert_eq!(back.command, m.command);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_reparse_stably(line in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(m) = parse(&line) {
                let again = m.encode();
                prop_assert_eq!(parse(&again[..again.len() - 2]), Ok(m));
            }
        }

        #[test]
        fn irc_like_lines_reparse_stably(line in "(@[a-z=;\\\\ ]{0,8} )?(:[a-z!@]{0,5} )? {0,2}[A-Za-z0-9]{1,4}( {1,2}:?[a-z: ]{0,5}){0,17}") {
            if let Ok(m) = parse(line.as_bytes()) {
                let again = m.encode();
                prop_assert_eq!(parse(&again[..again.len() - 2]), Ok(m));
            }
        }

        #[test]
        fn tag_values_round_trip(value in "[^\\x00]{0,20}") {
            prop_assert_eq!(unescape_tag_value(&escape_tag_value(&value)), value);
        }
    }
}
