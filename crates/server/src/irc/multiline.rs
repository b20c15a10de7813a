//! IRCv3 `draft/multiline`: one message sent in several lines.
//!
//! A client that took the capability opens a batch
//! (`BATCH +ref draft/multiline #target`), sends its lines as PRIVMSGs (or
//! NOTICEs) tagged `batch=ref` (a line tagged `draft/multiline-concat`
//! continues the one before without a line break) and closes it
//! (`BATCH -ref`). The lines become one message, stored and shown to JSON
//! clients as one text; IRC clients that took the capability get it back
//! as a batch, others line by line (`events.rs`). A label on the opening
//! line labels the echo of the whole batch.

use chatroom_proto::chat_text;
use chatroom_proto::irc::{Message, channel};

use super::IrcSession;
use super::events::{MULTILINE_BATCH, MULTILINE_CONCAT};
use crate::conn::Cost;
use crate::event::ClientTags;
use crate::hub::Style;

/// The most bytes of text one batch may hold (its lines, and a byte for
/// each line break between them).
pub const MAX_BYTES: usize = 4096;
/// The most lines one batch may hold.
pub const MAX_LINES: usize = 100;
/// The limits as `CAP LS 302` shows them.
pub const LIMITS: &str = "max-bytes=4096,max-lines=100";

/// A multiline batch the client opened and has not closed yet.
#[derive(Debug)]
pub(super) struct OpenBatch {
    /// The client's reference for it (`BATCH +ref`).
    reference: String,
    /// Its channel or nickname.
    target: String,
    /// Whether its lines are NOTICEs (`None` before the first).
    notice: Option<bool>,
    /// Its lines so far, each with whether it continues the one before.
    lines: Vec<(String, bool)>,
    /// Its size so far, as [`MAX_BYTES`] counts.
    bytes: usize,
    /// The label of the opening line (labeled-response), answered when
    /// the batch closes.
    label: Option<String>,
    /// The client-only tags of the opening line, relayed with the message.
    tags: ClientTags,
}

/// Why a batch was refused: the code of the `FAIL BATCH` reply, a
/// parameter for it if it has one, and the words.
type Refusal = (&'static str, Option<String>, &'static str);

impl OpenBatch {
    /// Takes one line of the batch: `command` with `text` to `target`,
    /// continuing the line before if `concat`.
    fn take(
        &mut self,
        command: &str,
        target: &str,
        text: &str,
        concat: bool,
    ) -> Result<(), Refusal> {
        let notice = match command.to_ascii_uppercase().as_str() {
            "PRIVMSG" => false,
            "NOTICE" => true,
            _ => {
                return Err(invalid(
                    "Only PRIVMSG and NOTICE lines belong in a multiline batch",
                ));
            }
        };
        if *self.notice.get_or_insert(notice) != notice {
            return Err(invalid("A multiline batch is all PRIVMSG or all NOTICE"));
        }
        if !irc_eq(target, &self.target) {
            return Err((
                "MULTILINE_INVALID_TARGET",
                Some(self.target.clone()),
                "A multiline batch's lines go to its own target",
            ));
        }
        if concat && text.is_empty() {
            return Err(invalid("A blank line cannot continue the one before"));
        }
        if self.lines.len() == MAX_LINES {
            return Err((
                "MULTILINE_MAX_LINES",
                Some(MAX_LINES.to_string()),
                "Too many lines in the multiline batch",
            ));
        }
        let line_break = usize::from(!concat && !self.lines.is_empty());
        self.bytes += text.len() + line_break;
        if self.bytes > MAX_BYTES {
            return Err((
                "MULTILINE_MAX_BYTES",
                Some(MAX_BYTES.to_string()),
                "Too much text in the multiline batch",
            ));
        }
        self.lines
            .push((chat_text::sanitize(text).into_owned(), concat));
        Ok(())
    }

    /// The message the batch makes: its text, and how it was written.
    fn message(self) -> Result<(String, String, Style), Refusal> {
        if self.lines.iter().all(|(line, _)| line.is_empty()) {
            return Err(invalid("A multiline batch needs some text"));
        }
        let mut text = String::with_capacity(self.bytes);
        for (i, (line, concat)) in self.lines.iter().enumerate() {
            if i > 0 && !concat {
                text.push('\n');
            }
            text.push_str(line);
        }
        let lines = self
            .lines
            .into_iter()
            .map(|(line, concat)| (line.into(), concat))
            .collect();
        let style = Style {
            action: false,
            notice: self.notice.unwrap_or(false),
            tags: self.tags,
            lines: Some(lines),
        };
        Ok((self.target, text, style))
    }
}

/// A `MULTILINE_INVALID` refusal.
fn invalid(why: &'static str) -> Refusal {
    ("MULTILINE_INVALID", None, why)
}

/// Whether two targets name the same channel or nickname.
fn irc_eq(a: &str, b: &str) -> bool {
    if channel::is_channel(a) || channel::is_channel(b) {
        channel::channel_to_room(a)
            .ok()
            .zip(channel::channel_to_room(b).ok())
            .is_some_and(|(a, b)| chatroom_proto::room::fold(a) == chatroom_proto::room::fold(b))
    } else {
        chatroom_proto::nick::fold(a) == chatroom_proto::nick::fold(b)
    }
}

impl IrcSession {
    /// The label to answer `message` under: a multiline batch's opening
    /// line keeps its label for the batch (none now), its closing line
    /// takes it back; any other line has its own.
    pub(super) fn label_of(&mut self, message: &Message) -> Option<String> {
        let label = message.tag("label").flatten().map(str::to_owned);
        if !message.command.eq_ignore_ascii_case("BATCH") {
            return label;
        }
        let reference = message.params.first().map(String::as_str).unwrap_or("");
        if reference.starts_with('+') {
            self.opening_label = label;
            return None;
        }
        match (&self.multiline, reference.strip_prefix('-')) {
            (Some(open), Some(closing)) if open.reference == closing => open.label.clone(),
            _ => label,
        }
    }

    /// `BATCH +ref draft/multiline target` or `BATCH -ref`.
    pub(super) fn batch(&mut self, args: &[String]) {
        let label = self.opening_label.take();
        let reference = args.first().map(String::as_str).unwrap_or("");
        if let Some(reference) = reference.strip_prefix('+') {
            let kind = args.get(1).map(String::as_str).unwrap_or("");
            if !kind.eq_ignore_ascii_case(MULTILINE_BATCH) || !self.caps.has(super::caps::MULTILINE)
            {
                return self.refuse((
                    "INVALID_TYPE",
                    None,
                    "Only draft/multiline batches are taken, with its capability",
                ));
            }
            let Some(target) = args.get(2) else {
                return self.refuse(invalid("A multiline batch needs a target"));
            };
            if reference.is_empty() || self.multiline.is_some() {
                self.multiline = None;
                return self.refuse(invalid("One multiline batch at a time, with a reference"));
            }
            self.discarded = None;
            self.multiline = Some(OpenBatch {
                reference: reference.to_owned(),
                target: target.clone(),
                notice: None,
                lines: Vec::new(),
                bytes: 0,
                label,
                tags: self.client_tags.clone(),
            });
        } else if let Some(reference) = reference.strip_prefix('-') {
            match self.multiline.take() {
                Some(open) if open.reference == reference => match open.message() {
                    Ok((target, text, style)) => {
                        if let Some(client) = self.client.clone() {
                            self.deliver(&client, &target, &text, style);
                        }
                    }
                    Err(refusal) => self.refuse(refusal),
                },
                other => {
                    self.multiline = other;
                    if self.discarded.as_deref() != Some(reference) {
                        self.refuse(invalid("No multiline batch is open with that reference"));
                    }
                    self.discarded = None;
                }
            }
        } else {
            self.refuse(invalid("A batch reference starts with + or -"));
        }
    }

    /// Takes a line tagged `batch=...` into the open multiline batch; a
    /// line for another batch, or one the batch cannot take, refuses the
    /// whole batch (and its later lines are dropped quietly).
    pub(super) fn batched_line(&mut self, message: &Message) {
        let reference = message.tag("batch").flatten().unwrap_or("");
        if self.discarded.as_deref() == Some(reference) {
            return;
        }
        let Some(open) = self.multiline.as_mut().filter(|o| o.reference == reference) else {
            self.multiline = None;
            return self.refuse(invalid("That line belongs to no open multiline batch"));
        };
        let target = message.params.first().map(String::as_str).unwrap_or("");
        let text = message.params.get(1).map(String::as_str).unwrap_or("");
        let concat = message.tag(MULTILINE_CONCAT).is_some();
        if let Err(refusal) = open.take(&message.command, target, text, concat) {
            self.discarded = Some(open.reference.clone());
            self.multiline = None;
            self.refuse(refusal);
        }
    }

    /// What a line costs when multiline batches are in play: nothing for
    /// a line the open batch takes (the batch is bounded, [`MAX_LINES`] and
    /// [`MAX_BYTES`], and paid for as one message when it closes, so that a
    /// pasted paragraph is not cut by the message rate), one message for
    /// the line closing it, a request for a line tagged for no open batch.
    /// `None` for other lines, and for clients without the capability
    /// (whose tagged lines are ordinary messages).
    pub(super) fn multiline_cost(&self, m: &Message) -> Option<Cost> {
        if self.client.is_none() || !self.caps.has(super::caps::MULTILINE) {
            return None;
        }
        let open = self.multiline.as_ref().map(|b| b.reference.as_str());
        if let Some(reference) = m.tag("batch").flatten() {
            return Some(if open == Some(reference) {
                Cost::Free
            } else {
                Cost::Request(1)
            });
        }
        let closing = m.command == "BATCH"
            && m.params
                .first()
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|r| open == Some(r));
        closing.then_some(Cost::Chat)
    }

    /// `FAIL BATCH <code> [<param>] :<why>`.
    fn refuse(&self, (code, param, why): Refusal) {
        let m = self.fail("BATCH", code, param.as_deref(), why);
        self.send(&m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> OpenBatch {
        OpenBatch {
            reference: "1".into(),
            target: "#Test".into(),
            notice: None,
            lines: Vec::new(),
            bytes: 0,
            label: None,
            tags: None,
        }
    }

    #[test]
    fn lines_join_with_breaks_unless_they_continue() {
        let mut batch = open();
        batch.take("PRIVMSG", "#test", "hello", false).unwrap();
        batch.take("privmsg", "#TEST", "how is ", false).unwrap();
        batch.take("PRIVMSG", "#test", "everyone?", true).unwrap();
        let (target, text, style) = batch.message().unwrap();
        assert_eq!(
            (target.as_str(), text.as_str()),
            ("#Test", "hello\nhow is everyone?")
        );
        assert_eq!(style.lines.unwrap().len(), 3);
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let code = |r: Result<(), Refusal>| r.unwrap_err().0;
        let mut batch = open();
        assert_eq!(
            code(batch.take("PRIVMSG", "#other", "x", false)),
            "MULTILINE_INVALID_TARGET"
        );
        assert_eq!(
            code(batch.take("PRIVMSG", "#test", "", true)),
            "MULTILINE_INVALID"
        );
        assert_eq!(
            code(batch.take("TOPIC", "#test", "x", false)),
            "MULTILINE_INVALID"
        );
        batch.take("PRIVMSG", "#test", "x", false).unwrap();
        assert_eq!(
            code(batch.take("NOTICE", "#test", "x", false)),
            "MULTILINE_INVALID"
        );

        let mut lines = open();
        for _ in 0..MAX_LINES {
            lines.take("PRIVMSG", "#test", "x", false).unwrap();
        }
        assert_eq!(
            code(lines.take("PRIVMSG", "#test", "x", false)),
            "MULTILINE_MAX_LINES"
        );

        let mut bytes = open();
        let long = "x".repeat(400);
        let refused = (0..11).find_map(|_| bytes.take("PRIVMSG", "#test", &long, false).err());
        assert_eq!(refused.map(|r| r.0), Some("MULTILINE_MAX_BYTES"));

        let mut blank = open();
        blank.take("PRIVMSG", "#test", "", false).unwrap();
        assert_eq!(blank.message().unwrap_err().0, "MULTILINE_INVALID");
    }
}
