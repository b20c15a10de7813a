//! Logging in, registering, deleting an account: the requests that prove
//! who someone is; and the TLS client certificates that log into an
//! account (`cert_add`, `cert_del`, `cert_list`).

use chatroom_proto::ErrorCode;
use chatroom_proto::json::{
    CertList, Done, Ref, Registered, Request, Secret, ServerFrame, Welcome, encode_frame,
};
use chatroom_proto::room::LOBBY;
use tracing::info;

use super::{JsonSession, SERVER_NAME, errors};
use crate::accounts::{AccountError, Identity, WRONG_PASSWORDS_PER_CONNECTION};
use crate::certfp::Fingerprint;
use crate::conn::Flow;
use crate::event::Format;
use crate::hub::{Arrival, Client, HubError};
use crate::outbox::CloseReason;

impl JsonSession {
    /// `login`: checks the password (if any), or without one the TLS
    /// client certificate (if the nickname's account lists it), and logs
    /// in; closes the connection after too many wrong passwords.
    pub(super) async fn login(
        &mut self,
        nickname: String,
        password: Option<Secret>,
        protocol: Option<u32>,
        reference: Option<Ref>,
    ) -> Flow {
        if let Some(client) = &self.client {
            let text = match self.hub.person(client) {
                Some(who) => format!("already logged in as {}", who.nick),
                None => "already logged in".to_owned(),
            };
            self.send_error(ErrorCode::AlreadyLoggedIn, text, reference);
            return Flow::Continue;
        }
        let by_certificate = match (&password, &self.certfp) {
            (None, Some(certfp)) => self.hub.accounts().certificate_login(&nickname, certfp),
            _ => None,
        };
        let checked = match by_certificate {
            Some(identity) => identity,
            // Rare paths like this one are boxed, so every connection's
            // future does not carry their state (see `drive`).
            None => {
                Box::pin(
                    self.hub
                        .accounts()
                        .check(&nickname, password.as_ref(), self.peer.ip()),
                )
                .await
            }
        };
        let identity = match checked {
            Ok(identity) => identity,
            Err(e) => {
                self.account_error(&e, reference);
                // Asking again while told to wait counts as much as a
                // wrong guess.
                if matches!(
                    e,
                    AccountError::WrongPassword(_) | AccountError::TooManyAttempts(_)
                ) {
                    self.wrong_passwords += 1;
                    if self.wrong_passwords >= WRONG_PASSWORDS_PER_CONNECTION {
                        return Flow::Close(CloseReason::TooManyAttempts);
                    }
                }
                return Flow::Continue;
            }
        };
        Box::pin(self.enter(nickname, identity, password.is_some(), protocol, reference)).await;
        Flow::Continue
    }

    /// Logs in as `nickname` with an established identity.
    pub(super) async fn enter(
        &mut self,
        nickname: String,
        identity: Identity,
        password_given: bool,
        protocol: Option<u32>,
        reference: Option<Ref>,
    ) {
        // In a cluster the nickname must be free on every node first, and
        // the node listening to the lobby the login enters.
        let id = match self.hub.claim_nick(&nickname).await {
            Ok(id) => id,
            Err(e) => return self.send_error(errors::hub_error(&e), e.to_string(), reference),
        };
        self.hub.prepare_join(LOBBY).await;
        let welcome_ref = reference.clone();
        let epoch = format!("{:016x}", self.hub.epoch());
        let limits = self.settings.limits;
        let arrival = Arrival {
            nick: nickname.clone(),
            user: nickname.clone(),
            realname: nickname.clone(),
            address: self.peer,
            format: Format::Json,
            echo: false,
            identity,
            enter_lobby: true,
            password_given,
            certfp: self.certfp.clone(),
            id,
        };
        let result = self
            .hub
            .login(arrival, self.outbox.clone(), |client, nickname, _| {
                encode_frame(&ServerFrame::Welcome(Welcome {
                    status: "ok".to_owned(),
                    id: client.id,
                    nickname: nickname.to_owned(),
                    protocol: chatroom_proto::PROTOCOL_VERSION,
                    server: SERVER_NAME.to_owned(),
                    rooms: vec![LOBBY.to_owned()],
                    epoch: Some(epoch),
                    limits: Some(limits),
                    reference: welcome_ref,
                }))
            });
        match result {
            Ok(client) => {
                info!(peer = %self.peer, id = client.id, nick = %nickname, "logged in");
                self.protocol = protocol.unwrap_or(1);
                // Every JSON client hears when another session of its
                // account moves a read marker, and when someone who shares
                // a room with it goes away or comes back.
                client.set_wants(crate::event::wants::READ_MARKER | crate::event::wants::AWAY);
                self.client = Some(client);
            }
            Err(e) => self.send_error(errors::hub_error(&e), e.to_string(), reference),
        }
    }

    /// `register`: the current nickname once logged in, or `nickname`
    /// (logging in with it) before.
    pub(super) async fn register(
        &mut self,
        nickname: Option<String>,
        password: Secret,
        reference: Option<Ref>,
    ) {
        let (nickname, logging_in) = match (&self.client, nickname) {
            (Some(client), _) => match self.hub.person(client) {
                Some(who) => (who.nick.to_string(), false),
                None => return,
            },
            (None, Some(nickname)) => (nickname, true),
            (None, None) => {
                return self.send_error(
                    ErrorCode::MissingField,
                    "field `nickname` is missing (needed before login)",
                    reference,
                );
            }
        };
        let client = self.client.clone();
        match Box::pin(
            self.hub
                .register(client.as_deref(), &nickname, &password, self.peer.ip()),
        )
        .await
        {
            Ok(identity) => {
                if logging_in {
                    Box::pin(self.enter(
                        nickname.clone(),
                        identity,
                        false,
                        Some(chatroom_proto::PROTOCOL_VERSION),
                        None,
                    ))
                    .await;
                }
                self.send(&ServerFrame::Registered(Registered {
                    nickname,
                    reference,
                }));
            }
            Err(e) => self.account_error(&e, reference),
        }
    }

    /// Deletes an account: one's own with its password, anyone's as an
    /// operator.
    pub(super) async fn unregister(
        &mut self,
        client: &Client,
        nickname: Option<String>,
        password: Option<Secret>,
        reference: Option<Ref>,
    ) -> Result<(), HubError> {
        let own = self
            .hub
            .person(client)
            .ok_or(HubError::Gone)?
            .nick
            .to_string();
        let target = nickname.unwrap_or_else(|| own.clone());
        if chatroom_proto::nick::fold(&target) == chatroom_proto::nick::fold(&own) {
            let Some(password) = password else {
                self.send_error(
                    ErrorCode::MissingField,
                    "field `password` is missing: your account's password, to delete it",
                    reference,
                );
                return Ok(());
            };
            match self
                .hub
                .accounts()
                .check(&own, Some(&password), self.peer.ip())
                .await
            {
                Ok(identity) if identity.account.is_some() => {}
                Ok(_) => return Err(HubError::NoAccount(own)),
                Err(e) => {
                    self.account_error(&e, reference);
                    return Ok(());
                }
            }
        } else if !self.hub.is_operator(client) {
            return Err(HubError::NotOperator);
        }
        match self.hub.accounts().unregister(&target).await {
            Ok(true) => {
                self.hub
                    .forget_account(&chatroom_proto::nick::fold(&target));
                info!(peer = %self.peer, id = client.id, account = %target, "account deleted");
                self.send(&ServerFrame::Done(Done {
                    request: "unregister".to_owned(),
                    reference,
                }));
            }
            Ok(false) => return Err(HubError::NoAccount(target)),
            Err(e) => self.account_error(&e, reference),
        }
        Ok(())
    }

    /// `cert_add` (this connection's certificate, or a named one),
    /// `cert_del`, `cert_list`: all answered with the account's list.
    pub(super) async fn certs(
        &mut self,
        client: &Client,
        request: Request,
        reference: Option<Ref>,
    ) {
        let hub = self.hub.clone();
        let Some(account) = hub.account_of(client) else {
            return self.account_error(&AccountError::NoAccount, reference);
        };
        let named = |text: &str| {
            Fingerprint::parse(text).map_err(|e| (ErrorCode::InvalidField, e.to_string()))
        };
        let changed = match request {
            Request::CertAdd { fingerprint } => {
                let fingerprint = match fingerprint {
                    Some(text) => named(&text),
                    None => self.certfp.clone().ok_or_else(|| {
                        let e = AccountError::NoCertificate;
                        (errors::account_error(&e), e.to_string())
                    }),
                };
                match fingerprint {
                    Ok(fingerprint) => hub
                        .accounts()
                        .add_certificate(&account, &fingerprint)
                        .await
                        .map_err(|e| (errors::account_error(&e), e.to_string())),
                    Err(e) => Err(e),
                }
            }
            Request::CertDel { fingerprint } => match named(&fingerprint) {
                Ok(fingerprint) => hub
                    .accounts()
                    .remove_certificate(&account, &fingerprint)
                    .await
                    .map_err(|e| (errors::account_error(&e), e.to_string())),
                Err(e) => Err(e),
            },
            _ => Ok(()),
        };
        if let Err((code, text)) = changed {
            return self.send_error(code, text, reference);
        }
        self.send(&ServerFrame::Certs(CertList {
            fingerprints: hub
                .accounts()
                .certificates(&account)
                .iter()
                .map(ToString::to_string)
                .collect(),
            current: self.certfp.as_ref().map(ToString::to_string),
            reference,
        }));
    }
}
