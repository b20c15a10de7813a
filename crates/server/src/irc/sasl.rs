//! IRCv3 SASL: `AUTHENTICATE PLAIN` or `AUTHENTICATE EXTERNAL` logs into an
//! account before (or after) registration, the way IRC clients log in
//! (instead of `PASS` or a services bot). The payload comes base64-encoded
//! in chunks of 400 bytes. PLAIN's password is checked like every other
//! (`Accounts::check`: hashing pool, attempt counting); EXTERNAL logs into
//! the account that lists the TLS client certificate the connection
//! presented (`Accounts::by_certificate`; `CERT ADD` lists one), its
//! payload empty (`+`) or the account's name (the authorization identity).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chatroom_proto::irc::{Message, numeric};
use chatroom_proto::json::Secret;
use tracing::info;

use super::IrcSession;
use super::caps::SASL;
use crate::accounts::{AccountError, Identity};

/// The mechanisms offered (`sasl=PLAIN,EXTERNAL` in `CAP LS 302`, and
/// `908`).
pub const MECHANISMS: &str = "PLAIN,EXTERNAL";

/// A chunk of exactly this many bytes means more follow.
const CHUNK: usize = 400;

/// The longest payload taken (a PLAIN payload holds two nicknames and a
/// password).
const MAX_PAYLOAD: usize = 4 * CHUNK;

/// A SASL mechanism the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    /// A password (`authzid\0authcid\0password`).
    Plain,
    /// The TLS client certificate (an optional authorization identity).
    External,
}

impl Mechanism {
    /// The mechanism `AUTHENTICATE <name>` asks for, if offered.
    fn named(name: &str) -> Option<Mechanism> {
        if name.eq_ignore_ascii_case("PLAIN") {
            Some(Mechanism::Plain)
        } else if name.eq_ignore_ascii_case("EXTERNAL") {
            Some(Mechanism::External)
        } else {
            None
        }
    }
}

/// An exchange under way: its mechanism and the base64 text received so
/// far.
#[derive(Debug)]
pub struct Exchange {
    mechanism: Mechanism,
    received: String,
}

impl IrcSession {
    /// `AUTHENTICATE PLAIN` (or `EXTERNAL`) starts, `AUTHENTICATE <base64>`
    /// continues (`+` for an empty chunk), `AUTHENTICATE *` aborts.
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
            let Some(mechanism) = Mechanism::named(arg) else {
                let m = self
                    .numeric(numeric::RPL_SASLMECHS)
                    .param(MECHANISMS)
                    .trailing_param("are available SASL mechanisms");
                self.send(&m);
                return self.sasl_reply(numeric::ERR_SASLFAIL, "SASL authentication failed");
            };
            self.sasl = Some(Exchange {
                mechanism,
                received: String::new(),
            });
            return self.send(&Message::new("AUTHENTICATE").param("+"));
        };
        // A line over the chunk size breaks the protocol (905); lines of
        // the right size that add up to more than any credentials need
        // fail the attempt (904), as a wrong password does.
        if arg.len() > CHUNK {
            self.sasl = None;
            return self.sasl_reply(numeric::ERR_SASLTOOLONG, "SASL message too long");
        }
        if exchange.received.len() + arg.len() > MAX_PAYLOAD {
            self.sasl = None;
            return self.sasl_reply(numeric::ERR_SASLFAIL, "SASL authentication failed");
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
        match exchange.mechanism {
            Mechanism::Plain => {
                let Some((account, password)) = plain(&exchange.received) else {
                    return self.sasl_reply(
                        numeric::ERR_SASLFAIL,
                        "SASL authentication failed: not a PLAIN payload",
                    );
                };
                self.sasl_plain(&account, &Secret::new(password)).await;
            }
            Mechanism::External => self.sasl_external(&exchange.received),
        }
    }

    /// EXTERNAL: the account listing the connection's TLS client
    /// certificate, which must be `authzid`'s if the client named one.
    fn sasl_external(&mut self, base64: &str) {
        let Some(authzid) = authorization_identity(base64) else {
            return self.sasl_reply(
                numeric::ERR_SASLFAIL,
                "SASL authentication failed: not an EXTERNAL payload",
            );
        };
        let Some(certfp) = self.certfp.clone() else {
            return self.sasl_reply(
                numeric::ERR_SASLFAIL,
                "SASL authentication failed: you are not connected with a TLS client certificate",
            );
        };
        let identity = match self.hub.accounts().by_certificate(&certfp) {
            Ok(identity) => identity,
            Err(e) => {
                info!(peer = %self.peer, %certfp, error = %e, "SASL EXTERNAL refused");
                return self.sasl_reply(
                    numeric::ERR_SASLFAIL,
                    &format!("SASL authentication failed: {e}"),
                );
            }
        };
        let named_another = !authzid.is_empty()
            && identity.account.as_deref() != Some(chatroom_proto::nick::fold(&authzid).as_str());
        if named_another {
            return self.sasl_reply(
                numeric::ERR_SASLFAIL,
                "SASL authentication failed: your certificate is not that account's",
            );
        }
        self.sasl_succeeded(identity, "EXTERNAL");
    }

    /// PLAIN: checks the account's password.
    async fn sasl_plain(&mut self, account: &str, password: &Secret) {
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
        self.sasl_succeeded(identity, "PLAIN");
    }

    /// The session is logged into the account of `identity` (at
    /// registration, or at once if already registered): `900`, `903`.
    fn sasl_succeeded(&mut self, identity: Identity, mechanism: &str) {
        let Some(name) = identity.account.as_deref() else {
            return self.sasl_reply(numeric::ERR_SASLFAIL, "SASL authentication failed");
        };
        // As WHOIS and account-tag show it: the nickname as registered.
        let name = self.hub.accounts().shown_name(name);
        if let Some(client) = self.client.clone() {
            self.hub.log_into(&client, identity.clone());
        }
        info!(peer = %self.peer, account = %name, mechanism, "logged in by SASL");
        self.sasl_account = Some(identity);
        let m = self
            .numeric(numeric::RPL_LOGGEDIN)
            .param(self.me().to_string())
            .param(&*name)
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

/// The authorization identity of an EXTERNAL payload (`+`, empty, for
/// none), if it is one: base64 of UTF-8 text without NUL.
fn authorization_identity(base64: &str) -> Option<String> {
    let bytes = STANDARD.decode(base64).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    (!text.contains('\0')).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_payloads() {
        assert_eq!(authorization_identity(""), Some(String::new()));
        assert_eq!(authorization_identity(&encode("ann")), Some("ann".into()));
        assert_eq!(authorization_identity(&encode("a\0b")), None);
        assert_eq!(authorization_identity("not base64!"), None);
    }

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
