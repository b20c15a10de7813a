//! The text encoding of a customer's connection.
//!
//! The tutorial's clients send GBK (`send_data.encode("gbk")`) and decode the answer as GBK, and
//! NetAssist on Chinese Windows sends GBK too; `nc` and `snackshop buy` send UTF-8. With
//! [`WireEncoding::Auto`] (the default) each line is read as UTF-8 if it is valid UTF-8, or else
//! as GBK, and the shop answers in the encoding of the customer's last non-ASCII line. A fixed
//! encoding reads and answers only in it.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Which encodings the shop speaks (`--encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WireEncoding {
    /// Each connection in the encoding its customer writes: UTF-8, or else GBK.
    #[default]
    Auto,
    /// UTF-8 only.
    Utf8,
    /// GBK only.
    Gbk,
}

/// The text given for `--encoding` is not an encoding the shop speaks.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown encoding {0:?} (use utf-8, gbk or auto)")]
pub struct UnknownEncoding(String);

impl FromStr for WireEncoding {
    type Err = UnknownEncoding;

    fn from_str(s: &str) -> Result<WireEncoding, UnknownEncoding> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(WireEncoding::Auto),
            "utf-8" | "utf8" => Ok(WireEncoding::Utf8),
            "gbk" | "gb2312" | "cp936" => Ok(WireEncoding::Gbk),
            other => Err(UnknownEncoding(other.to_string())),
        }
    }
}

impl fmt::Display for WireEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireEncoding::Auto => "auto",
            WireEncoding::Utf8 => "utf-8",
            WireEncoding::Gbk => "gbk",
        })
    }
}

/// An encoding one line can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Utf8,
    Gbk,
}

impl Charset {
    /// Strict decoding: `None` if the bytes are not valid in this encoding.
    fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Charset::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_owned),
            Charset::Gbk => encoding_rs::GBK
                .decode_without_bom_handling_and_without_replacement(bytes)
                .map(|text| text.into_owned()),
        }
    }
}

/// One connection's encoding, fixed or as detected so far.
#[derive(Debug, Clone)]
pub(crate) struct Codec {
    setting: WireEncoding,
    current: Charset,
}

impl Codec {
    /// A connection that has said nothing yet: answers in UTF-8 unless GBK is fixed.
    pub(crate) fn new(setting: WireEncoding) -> Codec {
        let current = match setting {
            WireEncoding::Gbk => Charset::Gbk,
            WireEncoding::Auto | WireEncoding::Utf8 => Charset::Utf8,
        };
        Codec { setting, current }
    }

    /// Whether the encoding is found out from what the customer sends (so it is worth waiting
    /// for their first words before greeting them).
    pub(crate) fn detects(&self) -> bool {
        self.setting == WireEncoding::Auto
    }

    /// Reads one line; `None` if it is not text in an accepted encoding. In auto mode a
    /// non-ASCII line also decides the encoding of the answers.
    pub(crate) fn decode(&mut self, bytes: &[u8]) -> Option<String> {
        match self.setting {
            WireEncoding::Utf8 => Charset::Utf8.decode(bytes),
            WireEncoding::Gbk => Charset::Gbk.decode(bytes),
            WireEncoding::Auto => {
                if bytes.is_ascii() {
                    return Charset::Utf8.decode(bytes);
                }
                [Charset::Utf8, Charset::Gbk]
                    .into_iter()
                    .find_map(|charset| {
                        let text = charset.decode(bytes)?;
                        self.current = charset;
                        Some(text)
                    })
            }
        }
    }

    /// An answer in the connection's encoding. A character GBK lacks (say, an emoji in a
    /// catalog name) becomes `?`.
    pub(crate) fn encode(&self, text: &str) -> Vec<u8> {
        match self.current {
            Charset::Utf8 => text.as_bytes().to_vec(),
            Charset::Gbk => encode_gbk(text),
        }
    }

    /// The encodings accepted, for the answer to a line that is neither.
    pub(crate) fn setting(&self) -> WireEncoding {
        self.setting
    }
}

fn encode_gbk(text: &str) -> Vec<u8> {
    let mut encoder = encoding_rs::GBK.new_encoder();
    let mut out = Vec::with_capacity(text.len());
    let mut chunk = [0u8; 1024];
    let mut rest = text;
    loop {
        let (result, read, written) =
            encoder.encode_from_utf8_without_replacement(rest, &mut chunk, true);
        out.extend_from_slice(chunk.get(..written).unwrap_or_default());
        rest = rest.get(read..).unwrap_or_default();
        match result {
            encoding_rs::EncoderResult::InputEmpty => return out,
            encoding_rs::EncoderResult::OutputFull => {}
            encoding_rs::EncoderResult::Unmappable(_) => out.push(b'?'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const XIGUA_GBK: &[u8] = &[0xce, 0xf7, 0xb9, 0xcf];

    #[test]
    fn auto_reads_utf8_or_else_gbk_and_answers_in_it() {
        let mut c = Codec::new(WireEncoding::Auto);
        assert!(c.detects());
        assert_eq!(c.encode("好"), "好".as_bytes());
        assert_eq!(c.decode(XIGUA_GBK).as_deref(), Some("西瓜"));
        assert_eq!(c.encode("西瓜"), XIGUA_GBK);
        // ASCII decides nothing.
        assert_eq!(c.decode(b"2").as_deref(), Some("2"));
        assert_eq!(c.encode("西瓜"), XIGUA_GBK);
        assert_eq!(c.decode("西瓜".as_bytes()).as_deref(), Some("西瓜"));
        assert_eq!(c.encode("西瓜"), "西瓜".as_bytes());
        assert_eq!(c.decode(b"\xff\xfe"), None);
        assert_eq!(c.decode(b"\x81"), None, "a GBK lead byte alone");
    }

    #[test]
    fn fixed_encodings_read_and_answer_only_in_themselves() {
        let mut gbk = Codec::new(WireEncoding::Gbk);
        assert!(!gbk.detects());
        assert_eq!(gbk.encode("西瓜"), XIGUA_GBK);
        assert_eq!(gbk.decode(b"\xe8\xa5\xbf\xe7\x93"), None);
        let mut utf8 = Codec::new(WireEncoding::Utf8);
        assert_eq!(utf8.decode(XIGUA_GBK), None);
        assert_eq!(utf8.setting(), WireEncoding::Utf8);
    }

    #[test]
    fn characters_gbk_lacks_become_question_marks() {
        assert_eq!(encode_gbk("a😀b×"), b"a?b\xa1\xc1");
        let long = "西".repeat(2000);
        assert_eq!(
            encode_gbk(&long).len(),
            4000,
            "output longer than one chunk"
        );
    }

    #[test]
    fn names_parse() {
        assert_eq!("GBK".parse(), Ok(WireEncoding::Gbk));
        assert_eq!("utf8".parse(), Ok(WireEncoding::Utf8));
        assert_eq!("auto".parse(), Ok(WireEncoding::Auto));
        assert!("latin-1".parse::<WireEncoding>().is_err());
        assert_eq!(WireEncoding::Utf8.to_string(), "utf-8");
    }

    proptest! {
        #[test]
        fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut c = Codec::new(WireEncoding::Auto);
            if let Some(text) = c.decode(&bytes) {
                let _ = c.encode(&text);
            }
        }
    }
}
