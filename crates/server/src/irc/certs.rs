//! `CERT ADD|DEL|LIST`: the TLS client certificates that log into one's
//! account by `AUTHENTICATE EXTERNAL`, as ergo's `NS CERT` (we have no
//! services bots; accounts are managed with commands of their own, like
//! `REGISTER`). Answers are IRCv3 standard replies: `NOTE CERT ...` when
//! done, `FAIL CERT <code>` when refused.

use chatroom_proto::irc::{Message, Source};

use super::IrcSession;
use crate::accounts::AccountError;
use crate::certfp::Fingerprint;

impl IrcSession {
    /// `CERT ADD [<fingerprint>]` (this connection's certificate without
    /// one), `CERT DEL <fingerprint>`, `CERT LIST`.
    pub(super) async fn cert(&mut self, sub: &str, fingerprint: Option<&str>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let sub = sub.to_ascii_uppercase();
        let hub = self.hub.clone();
        let Some(account) = hub.account_of(&client) else {
            return self.cert_refused(&sub, &AccountError::NoAccount);
        };
        let named = match fingerprint.map(Fingerprint::parse).transpose() {
            Ok(named) => named,
            Err(e) => {
                let m = self.fail("CERT", "INVALID_FINGERPRINT", fingerprint, e.to_string());
                return self.send(&m);
            }
        };
        match (sub.as_str(), named) {
            ("ADD", named) => {
                let Some(fingerprint) = named.or_else(|| self.certfp.clone()) else {
                    return self.cert_refused(&sub, &AccountError::NoCertificate);
                };
                match hub.accounts().add_certificate(&account, &fingerprint).await {
                    Ok(()) => self.cert_note(
                        "ADDED",
                        &fingerprint,
                        "Certificate fingerprint added to your account",
                    ),
                    Err(e) => self.cert_refused(&sub, &e),
                }
            }
            ("DEL", Some(fingerprint)) => {
                match hub
                    .accounts()
                    .remove_certificate(&account, &fingerprint)
                    .await
                {
                    Ok(()) => self.cert_note(
                        "REMOVED",
                        &fingerprint,
                        "Certificate fingerprint removed from your account",
                    ),
                    Err(e) => self.cert_refused(&sub, &e),
                }
            }
            ("DEL", None) => {
                let m = self.fail(
                    "CERT",
                    "NEED_MORE_PARAMS",
                    Some("DEL"),
                    "CERT DEL needs the fingerprint to remove",
                );
                self.send(&m);
            }
            ("LIST", _) => {
                let certs = hub.accounts().certificates(&account);
                for fingerprint in &certs {
                    let text = if self.certfp.as_ref() == Some(fingerprint) {
                        "Certificate fingerprint of your account (this connection's)"
                    } else {
                        "Certificate fingerprint of your account"
                    };
                    self.cert_note("LISTED", fingerprint, text);
                }
                let m = self
                    .note("END")
                    .trailing_param(format!("{} certificate fingerprints", certs.len()));
                self.send(&m);
            }
            _ => {
                let m = self.fail(
                    "CERT",
                    "INVALID_PARAMS",
                    Some(&sub),
                    "Use CERT ADD [<fingerprint>], CERT DEL <fingerprint> or CERT LIST",
                );
                self.send(&m);
            }
        }
    }

    /// `NOTE CERT <code>`, from the server.
    fn note(&self, code: &str) -> Message {
        Message::new("NOTE")
            .with_source(Source::server(self.server()))
            .param("CERT")
            .param(code)
    }

    /// `NOTE CERT <code> <fingerprint> :<text>`.
    fn cert_note(&self, code: &str, fingerprint: &Fingerprint, text: &str) {
        let m = self
            .note(code)
            .param(fingerprint.as_str())
            .trailing_param(text);
        self.send(&m);
    }

    /// `FAIL CERT <code> <subcommand> :<why>`.
    fn cert_refused(&self, sub: &str, error: &AccountError) {
        let code = match error {
            AccountError::NoAccount => "ACCOUNT_REQUIRED",
            AccountError::NoCertificate => "NO_CERTIFICATE",
            AccountError::CertificateTaken(_) => "FINGERPRINT_TAKEN",
            AccountError::TooManyCertificates => "TOO_MANY_FINGERPRINTS",
            AccountError::UnknownCertificate(_) => "UNKNOWN_FINGERPRINT",
            _ => "TEMPORARILY_UNAVAILABLE",
        };
        let m = self.fail("CERT", code, Some(sub), error.to_string());
        self.send(&m);
    }
}
