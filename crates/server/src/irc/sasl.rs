//! IRCv3 SASL: `AUTHENTICATE PLAIN` logs into an account before (or after)
//! registration, the way IRC clients log in (instead of `PASS` or a
//! services bot). The payload comes base64-encoded in chunks of 400 bytes;
//! the password is checked like every other (`Accounts::check`: hashing
//! pool, attempt counting).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chatroom_proto::irc::{Message, numeric};
use chatroom_proto::json::Secret;
use tracing::info;

use super::IrcSession;
use super::caps::SASL;
use crate::accounts::AccountError;

/// The mechanisms offered (`sasl=PLAIN` in `CAP LS 302`).
pub const MECHANISMS: &str = "PLAIN";

/// A chunk of exactly this many bytes means more follow.
const CHUNK: usize = 400;

/// The longest payload taken (a PLAIN payload holds two nicknames and a
/// password).
const MAX_PAYLOAD: usize = 4 * CHUNK;

/// An exchange under way: the base64 text received so far.
#[derive(Debug, Default)]
pub struct Exchange {
    received: String,
}

impl IrcSession {
    /// `AUTHENTICATE PLAIN` starts, `AUTHENTICATE <base64>` continues (`+`
    /// for an empty chunk), `AUTHENTICATE *` aborts.
    pub(super) async fn authenticate(&mut self, arg: &str) {
        if !self.caps.has(SASL) {
            return self.sasl_reply(
                numeric::ERR_SASLFAIL,
                "SASL authentication failed: CAP REQ sasl first",
            );
        }
        if arg == "*" {
            if self.sasl.take().is_some() {
                return self.sasl_reply(numeric::ERR_SASLABORTED, "SASL authentication aborted");
            }
            return self.sasl_reply(numeric::ERR_SASLFAIL, "SASL authentication failed");
        }
        let Some(exchange) = self.sasl.as_mut() else {
            if self.sasl_account.is_some() {
                return self.sasl_reply(
                    numeric::ERR_SASLALREADY,
                    "You have already authenticated using SASL",
                );
            }
            if !arg.eq_ignore_ascii_case(MECHANISMS) {
                let m = self
                    .numeric(numeric::RPL_SASLMECHS)
                    .param(MECHANISMS)
                    .trailing_param("are available SASL mechanisms");
                self.send(&m);
                return self.sasl_reply(numeric::ERR_SASLFAIL, "SASL authentication failed");
            }
            self.sasl = Some(Exchange::default());
            return self.send(&Message::new("AUTHENTICATE").param("+"));
        };
        if arg.len() > CHUNK || exchange.received.len() + arg.len() > MAX_PAYLOAD {
            self.sasl = None;
            return self.sasl_reply(numeric::ERR_SASLTOOLONG, "SASL message too long");
        }
        if arg != "+" {
            exchange.received.push_str(arg);
        }
        if arg.len() == CHUNK {
            return; // More follows.
        }
        let Some(exchange) = self.sasl.take() else {
            return;
        };
        let Some((account, password)) = plain(&exchange.received) else {
            return self.sasl_reply(
                numeric::ERR_SASLFAIL,
                "SASL authentication failed: not a PLAIN payload",
            );
        };
        self.sasl_login(&account, &Secret::new(password)).await;
    }

    /// Checks the account's password; on success the session is logged
    /// into it (at registration, or at once if already registered).
    async fn sasl_login(&mut self, account: &str, password: &Secret) {
        let accounts = self.hub.accounts();
        if !accounts.is_registered(account) {
            return self.sasl_reply(
                numeric::ERR_SASLFAIL,
                "SASL authentication failed: no such account",
            );
        }
        let identity = match accounts
            .check(account, Some(password), self.peer.ip())
            .await
        {
            Ok(identity) => identity,
            Err(e) => {
                if matches!(
                    e,
                    AccountError::WrongPassword(_) | AccountError::TooManyAttempts(_)
                ) {
                    self.wrong_passwords += 1;
                }
                return self.sasl_reply(
                    numeric::ERR_SASLFAIL,
                    &format!("SASL authentication failed: {e}"),
                );
            }
        };
        let Some(name) = identity.account.clone() else {
            return self.sasl_reply(numeric::ERR_SASLFAIL, "SASL authentication failed");
        };
        if let Some(client) = self.client.clone() {
            self.hub.log_into(&client, identity.clone());
        }
        info!(peer = %self.peer, account = %name, "logged in by SASL");
        self.sasl_account = Some(identity);
        let m = self
            .numeric(numeric::RPL_LOGGEDIN)
            .param(self.me().to_string())
            .param(&name)
            .trailing_param(format!("You are now logged in as {name}"));
        self.send(&m);
        self.sasl_reply(numeric::RPL_SASLSUCCESS, "SASL authentication successful");
    }

    fn sasl_reply(&self, numeric: chatroom_proto::irc::Numeric, text: &str) {
        self.send(&self.numeric(numeric).trailing_param(text));
    }
}

/// The account and password of a PLAIN payload (`authzid\0authcid\0password`
/// in base64); the authorization identity, if given, must be the account.
fn plain(base64: &str) -> Option<(String, String)> {
    let bytes = STANDARD.decode(base64).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split('\0');
    let (authzid, authcid, password) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || authcid.is_empty() || password.is_empty() {
        return None;
    }
    if !authzid.is_empty() && authzid != authcid {
        return None;
    }
    Some((authcid.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn plain_payloads() {
        assert_eq!(
            plain(&encode("\0jilles\0sesame")),
            Some(("jilles".into(), "sesame".into()))
        );
        assert_eq!(
            plain(&encode("jilles\0jilles\0sesame")),
            Some(("jilles".into(), "sesame".into()))
        );
        assert_eq!(
            plain(&encode("other\0jilles\0sesame")),
            None,
            "someone else's"
        );
        assert_eq!(plain(&encode("\0\0sesame")), None);
        assert_eq!(plain(&encode("\0jilles\0")), None);
        assert_eq!(plain(&encode("jilles sesame")), None);
        assert_eq!(plain("not base64!"), None);
        assert_eq!(
            plain(&STANDARD.encode([0, b'a', 0, 0xff])),
            None,
            "not UTF-8"
        );
    }
}
