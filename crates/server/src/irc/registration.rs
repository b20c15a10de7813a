//! Registration: NICK and USER (and PASS for a registered nickname), the
//! account's REGISTER, and the welcome burst once a client is in; SETNAME
//! changes the real name USER gave.

use bytes::Bytes;
use chatroom_proto::irc::{self, Message, Source, numeric};
use chatroom_proto::json::Secret;
use chatroom_proto::nick;
use tracing::info;

use super::caps::ECHO_MESSAGE;
use super::events::irc_time;
use super::replies::user_name;
use super::{IrcSession, VERSION};
use crate::accounts::AccountError;
use crate::hub::{Arrival, Census, Client};

impl IrcSession {
    /// `NICK`: before registration, the nickname to register with; after,
    /// a rename everyone sharing a channel sees.
    pub(super) async fn nick_command(&mut self, wanted: &str) {
        if let Err(e) = nick::validate(wanted) {
            let m = self
                .numeric(numeric::ERR_ERRONEUSNICKNAME)
                .param(irc::safe_param(wanted))
                .trailing_param(format!("Erroneous nickname: {e}"));
            return self.send(&m);
        }
        let Some(client) = self.client.clone() else {
            // Registration completes after this line is handled, once USER
            // is in too (see `Session::handle`).
            self.nick = Some(wanted.to_owned());
            return;
        };
        let before = self.me();
        // In a cluster the nickname must be free on every node first.
        if let Err(e) = self.hub.claim_rename(client.id, wanted).await {
            return self.hub_error(&e, wanted);
        }
        let renamed = self.hub.rename(&client, wanted);
        self.hub
            .renamed_in_cluster(client.id, wanted, renamed.is_ok());
        match renamed {
            Ok(renamed) => {
                let m = Message::new("NICK").with_source(before).param(&renamed.new);
                self.nick = Some(renamed.new);
                self.send(&m);
            }
            Err(e) => self.hub_error(&e, wanted),
        }
    }

    /// `USER <user> <mode> <unused> <realname>`.
    pub(super) async fn user_command(&mut self, user: &str, realname: &str) {
        self.user = Some((user.to_owned(), realname.to_owned()));
        Box::pin(self.try_register()).await;
    }

    /// Completes registration once NICK and USER are in and CAP is done.
    pub(super) async fn try_register(&mut self) {
        if self.client.is_some() || self.negotiating {
            return;
        }
        let (Some(nick), Some((user, realname))) = (self.nick.clone(), self.user.clone()) else {
            return;
        };
        if let Some(expected) = self.settings.password.clone() {
            // PASS was the server's password, not an account's.
            let given = self.password.take();
            let right = given.is_some_and(|g| {
                constant_time_eq::constant_time_eq(g.expose().as_bytes(), expected.as_bytes())
            });
            if !right {
                info!(peer = %self.peer, "IRC client refused: wrong or missing server password");
                let m = self
                    .numeric(numeric::ERR_PASSWDMISMATCH)
                    .trailing_param("Password incorrect");
                self.send(&m);
                // Closes the connection (see `Session::handle`), and
                // registration is not tried again before it does.
                self.wrong_passwords = crate::accounts::WRONG_PASSWORDS_PER_CONNECTION;
                self.nick = None;
                return;
            }
        }
        let identity = match self.sasl_account.clone() {
            // Logged in by SASL: the hub checks that the nickname is
            // theirs to use (`Hub::login`).
            Some(identity) => identity,
            None => match self
                .hub
                .accounts()
                .check(&nick, self.password.as_ref(), self.peer.ip())
                .await
            {
                Ok(identity) => identity,
                Err(e) => return self.refuse_registration(&e),
            },
        };
        let arrival = Arrival {
            nick: nick.clone(),
            user: user_name(&user, &nick),
            realname,
            address: self.peer,
            format: self.caps.format(),
            echo: self.caps.has(ECHO_MESSAGE),
            identity,
            enter_lobby: false,
            password_given: false,
            certfp: self.certfp.clone(),
            id: None,
        };
        // In a cluster the nickname must be free on every node first.
        let arrival = match self.hub.claim_nick(&nick).await {
            Ok(id) => Arrival { id, ..arrival },
            Err(e) => {
                self.hub_error(&e, &nick);
                self.nick = None;
                return;
            }
        };
        let outbox = self.outbox.clone();
        // The burst is built under the hub's lock: take the counts now.
        let census = self.hub.census();
        let result = self.hub.login(arrival, outbox, |client, nick, _| {
            let mut out = Vec::new();
            for m in self.welcome(client, nick, census.with_arrival()) {
                m.encode_into(&mut out);
            }
            Bytes::from(out)
        });
        match result {
            Ok(client) => {
                info!(peer = %self.peer, id = client.id, nick = %nick, "IRC client registered");
                // As the hub normalized it.
                if let Some(me) = self.hub.person(&client) {
                    self.nick = Some(me.nick.to_string());
                }
                self.client = Some(client);
                self.update_wants();
                let autojoin = self.settings.autojoin.clone();
                if !autojoin.is_empty() {
                    Box::pin(self.join(&autojoin, None)).await;
                }
            }
            Err(e) => {
                self.hub_error(&e, &nick);
                self.nick = None;
            }
        }
    }

    /// Tells the client why its password (or nickname) was not accepted;
    /// it may try another NICK.
    fn refuse_registration(&mut self, error: &AccountError) {
        if matches!(
            error,
            AccountError::WrongPassword(_) | AccountError::TooManyAttempts(_)
        ) {
            self.wrong_passwords += 1;
        }
        let m = match error {
            AccountError::Banned(..) => self
                .numeric(numeric::ERR_YOUREBANNEDCREEP)
                .trailing_param(error.to_string()),
            AccountError::InvalidNickname(_) => self
                .numeric(numeric::ERR_ERRONEUSNICKNAME)
                .trailing_param(error.to_string()),
            _ => self
                .numeric(numeric::ERR_PASSWDMISMATCH)
                .trailing_param(format!("Password incorrect: {error}")),
        };
        self.send(&m);
        self.nick = None;
    }

    /// The registration burst: 001-005, LUSERS (from `counts`) and the
    /// MOTD. Runs under the hub's lock: no hub calls here.
    fn welcome(&self, client: &Client, nick: &str, counts: Census) -> Vec<Message> {
        let server = self.server();
        let n = |numeric| Message::numeric(server, numeric, nick);
        let user = self.user.as_ref().map_or("user", |(u, _)| u.as_str());
        let mut lines = vec![
            n(numeric::RPL_WELCOME).trailing_param(format!(
                "Welcome to the {server} IRC network, {nick}!{}@{}",
                user_name(user, nick),
                crate::event::Person::cloak(client.id)
            )),
            n(numeric::RPL_YOURHOST)
                .trailing_param(format!("Your host is {server}, running version {VERSION}")),
            n(numeric::RPL_CREATED).trailing_param(format!(
                "This server was created {}",
                irc_time(self.settings.started)
            )),
            n(numeric::RPL_MYINFO)
                .param(server)
                .param(VERSION)
                .param("Biow")
                .param("beiklmnostv")
                .param("beklov"),
        ];
        lines.extend(self.isupport_lines(nick));
        lines.extend(self.lusers_lines(nick, counts));
        lines.extend(self.motd_lines(nick));
        lines
    }

    /// `REGISTER <account> <email> <password>`: `*` or the current nickname
    /// as the account; before registration it registers the NICK given.
    pub(super) async fn register(&mut self, account: &str, password: &str) {
        let fail =
            |s: &Self, code: &str, text: String| s.fail("REGISTER", code, Some(account), text);
        let Some(nick) = self.nick.clone() else {
            let m = fail(self, "NEED_NICK", "Send NICK before REGISTER".to_owned());
            return self.send(&m);
        };
        if account != "*" && nick::fold(account) != nick::fold(&nick) {
            let m = fail(
                self,
                "ACCOUNT_NAME_MUST_BE_NICK",
                "The account name must be your nickname".to_owned(),
            );
            return self.send(&m);
        }
        let client = self.client.clone();
        let password = Secret::new(password);
        let registered = self
            .hub
            .register(client.as_deref(), &nick, &password, self.peer.ip())
            .await;
        let m = match registered {
            Ok(_) => {
                if self.client.is_none() {
                    self.password = Some(password);
                }
                Message::new("REGISTER")
                    .with_source(Source::server(self.server()))
                    .param("SUCCESS")
                    .param(&nick)
                    .trailing_param("Account created")
            }
            Err(e) => {
                let code = match e {
                    AccountError::AlreadyRegistered(_)
                    | AccountError::InUse(_)
                    | AccountError::LooksLike(_) => "ACCOUNT_EXISTS",
                    AccountError::InvalidNickname(_) => "BAD_ACCOUNT_NAME",
                    AccountError::BadPassword(_) => "UNACCEPTABLE_PASSWORD",
                    _ => "TEMPORARILY_UNAVAILABLE",
                };
                fail(self, code, e.to_string())
            }
        };
        self.send(&m);
    }

    /// `SETNAME :<realname>` (IRCv3 `setname`): the new real name comes
    /// back as a `SETNAME` line to the client (if it took `setname`) and to
    /// those sharing a channel who took it.
    pub(super) fn setname(&self, realname: &str) {
        let Some(client) = &self.client else { return };
        if realname.is_empty() || realname.len() > MAX_REALNAME_BYTES {
            let m = self.fail(
                "SETNAME",
                "INVALID_REALNAME",
                None,
                format!("A real name has 1 to {MAX_REALNAME_BYTES} bytes"),
            );
            return self.send(&m);
        }
        if let Err(e) = self.hub.set_realname(client, realname) {
            self.hub_error(&e, realname);
        }
    }
}

/// The longest real name `SETNAME` takes.
const MAX_REALNAME_BYTES: usize = 200;
