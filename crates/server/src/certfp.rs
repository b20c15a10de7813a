//! Client certificate fingerprints ("certfp", as IRC networks call them):
//! the SHA-256 of a TLS client's end-entity certificate (its DER bytes),
//! written as 64 lower-case hexadecimal digits. An account may list a few
//! (see `accounts`), and a connection that presents one of them may log
//! into it without a password (IRC's `AUTHENTICATE EXTERNAL`).

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

/// Hexadecimal digits in a fingerprint (a SHA-256 is 32 bytes).
const HEX_DIGITS: usize = 64;

/// A certificate fingerprint: SHA-256, lower-case hex, no separators.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(Arc<str>);

/// Why a text is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "a certificate fingerprint is the SHA-256 of the certificate: 64 hexadecimal digits (colons allowed between bytes)"
)]
pub struct FingerprintError;

impl Fingerprint {
    /// The fingerprint of a certificate, from its DER bytes.
    pub fn of_certificate(der: &[u8]) -> Fingerprint {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let hex: String = digest
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Fingerprint(hex.into())
    }

    /// A fingerprint as people write it: 64 hex digits in either case,
    /// with or without colons between the bytes (`AB:CD:...`, as
    /// `openssl x509 -fingerprint -sha256` prints it).
    pub fn parse(text: &str) -> Result<Fingerprint, FingerprintError> {
        let text = text.trim();
        let digits: String = if text.contains(':') {
            let bytes: Vec<&str> = text.split(':').collect();
            if bytes.iter().any(|b| b.len() != 2) {
                return Err(FingerprintError);
            }
            bytes.concat()
        } else {
            text.to_owned()
        };
        if digits.len() != HEX_DIGITS || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FingerprintError);
        }
        Ok(Fingerprint(digits.to_ascii_lowercase().into()))
    }

    /// The 64 lower-case hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_known_by_its_sha256() {
        // SHA-256 of the empty string.
        assert_eq!(
            Fingerprint::of_certificate(b"").as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn fingerprints_parse_in_the_usual_spellings() {
        let plain = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let fp = Fingerprint::parse(plain).unwrap();
        assert_eq!(fp.as_str(), plain);
        assert_eq!(Fingerprint::parse(&plain.to_uppercase()).unwrap(), fp);
        let colons: Vec<String> = plain
            .as_bytes()
            .chunks(2)
            .map(|pair| String::from_utf8_lossy(pair).to_uppercase())
            .collect();
        assert_eq!(Fingerprint::parse(&colons.join(":")).unwrap(), fp);
        for bad in [
            "",
            &plain[1..],
            &format!("{plain}0"),
            &plain.replace('e', "g"),
            "e3:b0c4",
            &format!(":{}", &plain[2..]),
        ] {
            assert_eq!(Fingerprint::parse(bad), Err(FingerprintError), "{bad}");
        }
    }
}
