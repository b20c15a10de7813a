//! History on IRC: a channel's recent messages replayed on join, as a
//! `chathistory` batch, as tagged lines, or as lines with their date and
//! time (like a bouncer's playback), depending on the client's
//! capabilities.

use bytes::Bytes;
use chatroom_proto::irc::{Message, Source, channel};
use tracing::warn;

use super::IrcSession;
use super::caps::{BATCH, EVENT_PLAYBACK, MESSAGE_TAGS};
use super::events::{irc_text_lines, with_client_tags, with_server_tags};
use crate::event::Person;
use crate::store::{Span, StoredKind, StoredMessage};

impl IrcSession {
    /// Replays the messages of room `key` (display name `name`) with ids
    /// below `before` (the newest when `None`).
    pub(super) async fn replay(&mut self, key: String, name: String, before: Option<u64>) {
        let channel = channel::room_to_channel(&name);
        let page = match self
            .hub
            .store()
            .history_in(
                key,
                self.history_span(Span::before(before)),
                self.settings.history_replay,
            )
            .await
        {
            Ok(page) => page,
            Err(e) => {
                warn!(peer = %self.peer, error = %e, "history read failed");
                let m = Message::new("NOTICE")
                    .with_source(Source::server(self.server()))
                    .param(self.addressee())
                    .trailing_param(format!(
                        "*** The history of {channel} is unavailable right now"
                    ));
                return self.send(&m);
            }
        };
        if page.messages.is_empty() {
            return;
        }
        self.send_history(&channel, &page.messages);
    }

    /// Sends stored messages about `target` (a channel or a nickname), in a
    /// `chathistory` batch when the client takes batches (an empty batch
    /// says there is nothing).
    pub(super) fn send_history(&mut self, target: &str, messages: &[StoredMessage]) {
        let mut out = Vec::new();
        let batch = self.caps.has(BATCH).then(|| {
            self.batches += 1;
            format!("h{}", self.batches)
        });
        if let Some(id) = &batch {
            Message::new("BATCH")
                .with_source(Source::server(self.server()))
                .param(format!("+{id}"))
                .param("chathistory")
                .param(target)
                .encode_into(&mut out);
        }
        for m in messages {
            for line in self.history_lines(m, batch.as_deref()) {
                line.encode_into(&mut out);
            }
        }
        if let Some(id) = &batch {
            Message::new("BATCH")
                .with_source(Source::server(self.server()))
                .param(format!("-{id}"))
                .encode_into(&mut out);
        }
        self.out(Bytes::from(out));
    }

    /// `span` with the events this client asked to see in history
    /// (topic changes, kept TAGMSGs: IRCv3 `draft/event-playback`).
    pub(super) fn history_span(&self, span: Span) -> Span {
        Span {
            events: self.caps.has(EVENT_PLAYBACK),
            ..span
        }
    }

    /// One stored message (or event) as the lines this client reads: to
    /// its channel, or to its recipient for a direct message.
    fn history_lines(&self, m: &StoredMessage, batch: Option<&str>) -> Vec<Message> {
        let tagged = self.caps.tagged();
        let format = self.caps.irc_format();
        let client_tags = self.caps.has(MESSAGE_TAGS);
        let source = Source::user(&m.sender_nick, &m.sender_nick, &*Person::cloak(m.sender_id));
        let target = match (&m.room, &m.recipient) {
            (Some((_, name)), _) => channel::room_to_channel(name),
            (None, Some((_, nick))) => nick.clone(),
            (None, None) => String::from("*"),
        };
        let lines = match m.kind {
            StoredKind::Message | StoredKind::Notice => {
                let command = if m.kind == StoredKind::Notice {
                    "NOTICE"
                } else {
                    "PRIVMSG"
                };
                let template = Message::new(command).with_source(source).param(target);
                let text = if tagged {
                    m.text.clone()
                } else {
                    let stamp = crate::clock::utc_stamp(m.ts);
                    m.text
                        .lines()
                        .map(|l| format!("[{stamp}] {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                irc_text_lines(&template, &text, m.action)
            }
            StoredKind::Topic => vec![
                Message::new("TOPIC")
                    .with_source(source)
                    .param(target)
                    .trailing_param(&m.text),
            ],
            // Tags are all a TAGMSG says.
            StoredKind::TagMsg if client_tags => {
                vec![Message::new("TAGMSG").with_source(source).param(target)]
            }
            StoredKind::TagMsg => Vec::new(),
        };
        lines
            .into_iter()
            .enumerate()
            .map(|(i, mut line)| {
                if let Some(id) = batch {
                    line = line.with_tag("batch", Some(id));
                }
                // No account: history keeps the sender's nickname only.
                let line = with_server_tags(line, format, None, (i == 0).then_some(m.id), m.ts);
                with_client_tags(line, format, false, &m.tags)
            })
            .collect()
    }
}
