//! An IRC connection's life: decoding its lines, dispatching each command
//! through the table, keepalive, rate-limit costs, and its last words.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chatroom_proto::irc::{self, IrcFramer, Limits, Message, ParseError, Source, numeric};
use tracing::{debug, info, warn};

use super::caps::{Caps, LABELED_RESPONSE, MULTILINE};
use super::commands::{Handler, handler};
use super::events::closed_text;
use super::{Input, IrcSession, IrcSettings, labels};
use crate::accounts::WRONG_PASSWORDS_PER_CONNECTION;
use crate::conn::{Cost, Flow, Session};
use crate::hub::Hub;
use crate::outbox::{CloseReason, Outbox};

impl IrcSession {
    /// A session for a fresh connection from `peer`.
    pub fn new(
        hub: Arc<Hub>,
        outbox: Arc<Outbox>,
        peer: SocketAddr,
        settings: IrcSettings,
    ) -> Self {
        IrcSession {
            hub,
            outbox,
            peer,
            settings,
            framer: IrcFramer::new(Limits::FROM_CLIENT),
            nick: None,
            user: None,
            negotiating: false,
            caps: Caps::default(),
            client: None,
            invisible: false,
            quit_message: None,
            batches: 0,
            password: None,
            wrong_passwords: 0,
            client_tags: None,
            sasl: None,
            sasl_account: None,
            wallops: false,
            bot: false,
            markers: Default::default(),
            multiline: None,
            discarded: None,
            opening_label: None,
            certfp: None,
        }
    }

    /// This session, for a connection that presented the TLS client
    /// certificate `certfp` (if any).
    pub fn with_certfp(mut self, certfp: Option<crate::certfp::Fingerprint>) -> Self {
        self.certfp = certfp;
        self
    }

    /// Handles one parsed line; a request tagged `label` (with
    /// labeled-response) gets its answers labeled.
    async fn line(&mut self, message: Message) -> Flow {
        if self.client.is_some() && self.caps.has(MULTILINE) && message.tag("batch").is_some() {
            self.batched_line(&message);
            return Flow::Continue;
        }
        let label = self.label_of(&message);
        let labeled = match (&self.client, label) {
            (Some(client), Some(label))
                if self.caps.has(LABELED_RESPONSE) && label.len() <= labels::MAX_LABEL_BYTES =>
            {
                client.gather(true);
                Some((client.clone(), label))
            }
            _ => None,
        };
        let flow = self.dispatch(message).await;
        if let Some((client, label)) = labeled {
            let answers = client.gather(false);
            self.batches += 1;
            let batch = format!("l{}", self.batches);
            self.outbox
                .push(labels::labeled(&label, self.server(), &answers, &batch));
        }
        flow
    }

    /// Checks a parsed line against the command table's rules, then runs
    /// its handler.
    async fn dispatch(&mut self, message: Message) -> Flow {
        let spec = match irc::lookup(&message, self.client.is_some()) {
            Ok(spec) => spec,
            Err(e) => {
                if let Some(reply) = e.reply(self.server(), &self.addressee()) {
                    self.send(&reply);
                }
                return Flow::Continue;
            }
        };
        let args = spec.args(&message);
        let client_tags: Vec<(String, Option<String>)> = message
            .tags
            .iter()
            .filter(|t| t.is_client_only())
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        self.client_tags = (!client_tags.is_empty()).then(|| client_tags.into());
        match handler(spec.command) {
            Handler::Now(run) => run(self, args),
            Handler::Later(run) => run(self, args).await,
        }
    }
}

impl Session for IrcSession {
    type Input = Input;

    fn decode(&mut self, bytes: &[u8], inputs: &mut Vec<Input>) {
        self.framer.feed(bytes, |item| {
            inputs.push(match item {
                Ok(line) => match irc::parse(line) {
                    Ok(message) => Input::Line(message),
                    Err(e) => Input::Bad(e),
                },
                Err(_) => Input::TooLong,
            })
        });
    }

    async fn handle(&mut self, input: Input) -> Flow {
        let flow = match input {
            Input::Line(message) => self.line(message).await,
            Input::TooLong => {
                warn!(peer = %self.peer, "IRC line too long");
                let m = self
                    .numeric(numeric::ERR_INPUTTOOLONG)
                    .trailing_param("Input line was too long");
                self.send(&m);
                Flow::Continue
            }
            Input::Bad(ParseError::Empty) => Flow::Continue,
            Input::Bad(ParseError::InvalidUtf8 { command }) => {
                warn!(peer = %self.peer, %command, "IRC line is not UTF-8");
                let m = self.fail(
                    &command,
                    "INVALID_UTF8",
                    None,
                    "Message rejected: this network only accepts UTF-8",
                );
                self.send(&m);
                Flow::Continue
            }
            Input::Bad(e) => {
                warn!(peer = %self.peer, error = %e, "unparsable IRC line");
                let m = self
                    .numeric(numeric::ERR_UNKNOWNCOMMAND)
                    .param("*")
                    .trailing_param(format!("Malformed line: {e}"));
                self.send(&m);
                Flow::Continue
            }
        };
        // A NICK that arrived after USER (e.g. retrying after 433) completes
        // registration here.
        if self.client.is_none()
            && !self.negotiating
            && self.nick.is_some()
            && self.user.is_some()
            && flow == Flow::Continue
        {
            Box::pin(self.try_register()).await;
        }
        if self.wrong_passwords >= WRONG_PASSWORDS_PER_CONNECTION {
            return Flow::Close(CloseReason::TooManyAttempts);
        }
        flow
    }

    fn logged_in(&self) -> bool {
        self.client.is_some()
    }

    fn ping(&mut self, token: u64) -> bool {
        let m = Message::new("PING")
            .with_source(Source::server(self.server()))
            .trailing_param(token.to_string());
        self.send(&m);
        true
    }

    fn cost(&self, input: &Input) -> Cost {
        let Input::Line(m) = input else {
            // An error answer costs the server a little too.
            return Cost::Request(1);
        };
        let targets = |i: usize| {
            let n = m.arg(i).map_or(1, |list| list.split(',').count());
            u32::try_from(n).unwrap_or(u32::MAX)
        };
        if let Some(cost) = self.multiline_cost(m) {
            return cost;
        }
        let registered = self.client.is_some();
        // Commands are upper case once parsed.
        Cost::Request(match m.command.as_str() {
            "PRIVMSG" | "NOTICE" | "TAGMSG" => return Cost::Chat,
            "PONG" | "QUIT" => return Cost::Free,
            // These reach everyone sharing a channel with the user.
            "NICK" if registered => 10,
            "TOPIC" if m.params.len() > 1 => 10,
            "AWAY" => 5,
            "JOIN" => 5u32.saturating_mul(targets(0)),
            "PART" => 3u32.saturating_mul(targets(0)),
            "LIST" | "WHO" | "MOTD" => 3,
            "KICK" => 2u32.saturating_mul(targets(1)),
            "NAMES" | "WHOIS" | "MODE" | "KILL" => 2,
            "REGISTER" | "OPER" | "CERT" => 5,
            _ => 1,
        })
    }

    fn rate_limited(&mut self, input: Input) {
        let Input::Line(line) = input else { return };
        let command = line.command.as_str();
        let m = if matches!(command, "PRIVMSG" | "NOTICE" | "TAGMSG") {
            let target = line.arg(0).map(irc::safe_param).unwrap_or("*");
            Message::new("NOTICE")
                .with_source(Source::server(self.server()))
                .param(self.addressee())
                .trailing_param(format!(
                    "*** Message to {target} dropped: you are sending too fast"
                ))
        } else {
            self.numeric(numeric::RPL_TRYAGAIN)
                .param(irc::safe_param(command))
                .trailing_param("Please wait a while and try again.")
        };
        self.send(&m);
    }

    fn busy(&mut self, input: Input) {
        let Input::Line(line) = input else { return };
        let target = line.arg(0).map(irc::safe_param).unwrap_or("*");
        let m = Message::new("NOTICE")
            .with_source(Source::server(self.server()))
            .param(self.addressee())
            .trailing_param(format!(
                "*** Message to {target} dropped: the server is too busy to store it; \
                 try again in a moment"
            ));
        self.send(&m);
    }

    fn finish(&mut self, reason: CloseReason) -> Option<Bytes> {
        let host = self.me().to_string();
        let quit = self.quit_message.as_deref().unwrap_or("Client quit");
        if let Some(client) = self.client.take() {
            let said = (reason == CloseReason::Logout).then_some(quit);
            self.hub.leave(&client, reason, said);
            info!(peer = %self.peer, id = client.id, reason = reason.as_str(), "IRC client left");
        } else {
            debug!(peer = %self.peer, reason = reason.as_str(), "IRC connection closed before registration");
        }
        let why = match reason {
            CloseReason::Logout => format!("Quit: {quit}"),
            CloseReason::Closed | CloseReason::Reset => return None,
            // Others read "Banned"; the banned read this.
            CloseReason::Banned => "You are banned".to_owned(),
            other => closed_text(other).to_owned(),
        };
        Some(Bytes::from(
            Message::new("ERROR")
                .trailing_param(format!("Closing Link: {host} ({why})"))
                .encode(),
        ))
    }
}
