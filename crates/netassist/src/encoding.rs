//! Text encodings for what is shown and what is sent: UTF-8, GBK and Latin-1.
//!
//! TCP delivers a byte stream in arbitrary pieces, so a multi-byte character
//! (你 is `c4 e3` in GBK) may arrive split across two reads. [`StreamDecoder`]
//! keeps the unfinished tail of one read and completes it with the next, so the
//! character is shown whole. Invalid bytes become U+FFFD, never an error: the
//! hex view shows the exact bytes.

use std::fmt;

/// A character encoding that netassist can decode and encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Encoding {
    /// UTF-8, the default.
    #[default]
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// GBK (decoded as its superset GB18030), what Chinese Windows tools and the
    /// tutorial's Python clients (`.encode("gbk")`) send.
    #[value(name = "gbk", alias = "gb2312", alias = "cp936")]
    Gbk,
    /// ISO-8859-1: each byte is the code point U+0000..U+00FF.
    #[value(name = "latin-1", alias = "latin1", alias = "iso-8859-1")]
    Latin1,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Gbk => "gbk",
            Encoding::Latin1 => "latin-1",
        })
    }
}

/// Text that the chosen encoding cannot represent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("character {ch:?} cannot be encoded as {encoding}")]
pub struct EncodeError {
    /// The first character that has no representation.
    pub ch: char,
    /// The encoding that was asked for.
    pub encoding: Encoding,
}

/// Encodes text for sending. Unlike a lossy encoder it refuses characters the
/// encoding lacks, so the user learns about it instead of sending `?` or `&#...;`.
pub fn encode(text: &str, encoding: Encoding) -> Result<Vec<u8>, EncodeError> {
    match encoding {
        Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
        Encoding::Latin1 => text
            .chars()
            .map(|ch| u8::try_from(u32::from(ch)).map_err(|_| EncodeError { ch, encoding }))
            .collect(),
        Encoding::Gbk => {
            let mut encoder = encoding_rs::GBK.new_encoder();
            // GBK needs at most 2 bytes per UTF-8 byte; grow if ever short.
            let capacity = encoder
                .max_buffer_length_from_utf8_without_replacement(text.len())
                .unwrap_or(text.len().saturating_mul(2));
            let mut out = vec![0u8; capacity];
            let (mut src, mut written) = (text, 0);
            loop {
                let (result, read, wrote) = encoder.encode_from_utf8_without_replacement(
                    src,
                    out.get_mut(written..).unwrap_or_default(),
                    true,
                );
                written += wrote;
                src = src.get(read..).unwrap_or_default();
                match result {
                    encoding_rs::EncoderResult::InputEmpty => {
                        out.truncate(written);
                        return Ok(out);
                    }
                    encoding_rs::EncoderResult::Unmappable(ch) => {
                        return Err(EncodeError { ch, encoding });
                    }
                    encoding_rs::EncoderResult::OutputFull => {
                        out.resize(out.len() + src.len().saturating_mul(2) + 16, 0);
                    }
                }
            }
        }
    }
}

/// Encodes text to send, resolving escapes first when `escapes` is on: the
/// text between escapes is encoded, each escape adds its exact byte.
pub fn encode_text(text: &str, encoding: Encoding, escapes: bool) -> Result<Vec<u8>, String> {
    if !escapes {
        return encode(text, encoding).map_err(|e| e.to_string());
    }
    let mut out = Vec::with_capacity(text.len());
    for piece in crate::codec::unescape(text).map_err(|e| e.to_string())? {
        match piece {
            crate::codec::Piece::Text(t) => {
                out.extend_from_slice(&encode(&t, encoding).map_err(|e| e.to_string())?);
            }
            crate::codec::Piece::Byte(b) => out.push(b),
        }
    }
    Ok(out)
}

/// Decodes one direction of one connection, carrying partial characters over
/// from one chunk to the next.
pub struct StreamDecoder {
    inner: Inner,
}

enum Inner {
    /// encoding_rs keeps the partial-sequence state for UTF-8 and GBK.
    Rs(encoding_rs::Decoder),
    /// Every Latin-1 byte is a whole character; nothing to carry.
    Latin1,
}

impl fmt::Debug for StreamDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamDecoder").finish_non_exhaustive()
    }
}

impl StreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new(encoding: Encoding) -> Self {
        let inner = match encoding {
            // Without BOM handling: a BOM in the middle of a debugging session
            // is data, and must not silently vanish.
            Encoding::Utf8 => Inner::Rs(encoding_rs::UTF_8.new_decoder_without_bom_handling()),
            Encoding::Gbk => Inner::Rs(encoding_rs::GBK.new_decoder_without_bom_handling()),
            Encoding::Latin1 => Inner::Latin1,
        };
        StreamDecoder { inner }
    }

    /// Decodes the next chunk. A character left incomplete at the end of
    /// `bytes` is held back and emitted with the next call; with `last`, it is
    /// emitted as U+FFFD instead (the stream ended) and the decoder starts
    /// over, so it can be used for a new stream.
    pub fn decode(&mut self, bytes: &[u8], last: bool) -> String {
        let out = self.decode_chunk(bytes, last);
        if last && let Inner::Rs(decoder) = &self.inner {
            // encoding_rs decoders must not be used after their last call.
            self.inner = Inner::Rs(decoder.encoding().new_decoder_without_bom_handling());
        }
        out
    }

    fn decode_chunk(&mut self, bytes: &[u8], last: bool) -> String {
        match &mut self.inner {
            Inner::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
            Inner::Rs(decoder) => {
                let capacity = decoder
                    .max_utf8_buffer_length(bytes.len())
                    .unwrap_or(bytes.len().saturating_mul(3).saturating_add(16));
                let mut out = String::with_capacity(capacity);
                let mut src = bytes;
                loop {
                    let (result, read, _replaced) = decoder.decode_to_string(src, &mut out, last);
                    src = src.get(read..).unwrap_or_default();
                    match result {
                        encoding_rs::CoderResult::InputEmpty => return out,
                        encoding_rs::CoderResult::OutputFull => {
                            out.reserve(src.len().saturating_mul(3).saturating_add(16));
                        }
                    }
                }
            }
        }
    }
}

/// Decodes a complete message (a datagram, or bytes we sent) in one go.
pub fn decode_whole(bytes: &[u8], encoding: Encoding) -> String {
    StreamDecoder::new(encoding).decode(bytes, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gbk_nihao_is_c4e3bac3() {
        assert_eq!(
            encode("你好", Encoding::Gbk),
            Ok(vec![0xc4, 0xe3, 0xba, 0xc3])
        );
        assert_eq!(
            decode_whole(&[0xc4, 0xe3, 0xba, 0xc3], Encoding::Gbk),
            "你好"
        );
    }

    #[test]
    fn gbk_character_split_across_reads_comes_out_whole() {
        let mut d = StreamDecoder::new(Encoding::Gbk);
        assert_eq!(d.decode(&[0xc4], false), "");
        assert_eq!(d.decode(&[0xe3, 0xba], false), "你");
        assert_eq!(d.decode(&[0xc3, b'!'], false), "好!");
    }

    #[test]
    fn utf8_split_and_invalid_bytes() {
        let bytes = "你".as_bytes();
        let mut d = StreamDecoder::new(Encoding::Utf8);
        assert_eq!(d.decode(&bytes[..1], false), "");
        assert_eq!(d.decode(&bytes[1..], false), "你");
        assert_eq!(
            decode_whole(&[b'a', 0xff, b'b'], Encoding::Utf8),
            "a\u{fffd}b"
        );
        // A truncated character at the very end of the stream is replaced.
        let mut d = StreamDecoder::new(Encoding::Utf8);
        assert_eq!(d.decode(&bytes[..2], false), "");
        assert_eq!(d.decode(&[], true), "\u{fffd}");
    }

    #[test]
    fn decoder_can_be_reused_after_the_last_chunk() {
        let mut d = StreamDecoder::new(Encoding::Gbk);
        assert_eq!(d.decode(&[0xc4], true), "\u{fffd}");
        assert_eq!(d.decode(&[0xc4, 0xe3], true), "你");
    }

    #[test]
    fn latin1_is_bytewise() {
        assert_eq!(
            decode_whole(&[0x41, 0xe9, 0x80], Encoding::Latin1),
            "Aé\u{80}"
        );
        assert_eq!(encode("Aé", Encoding::Latin1), Ok(vec![0x41, 0xe9]));
        assert_eq!(
            encode("你", Encoding::Latin1),
            Err(EncodeError {
                ch: '你',
                encoding: Encoding::Latin1
            })
        );
    }

    #[test]
    fn escapes_add_exact_bytes_between_encoded_text() {
        assert_eq!(
            encode_text(r"你\x00好\r\n", Encoding::Gbk, true),
            Ok(vec![0xc4, 0xe3, 0x00, 0xba, 0xc3, b'\r', b'\n'])
        );
        assert_eq!(
            encode_text(r"a\n", Encoding::Utf8, false),
            Ok(b"a\\n".to_vec())
        );
        assert!(encode_text(r"\q", Encoding::Utf8, true).is_err());
        assert!(encode_text("😀", Encoding::Gbk, true).is_err());
    }

    #[test]
    fn gbk_refuses_unmappable_characters() {
        assert_eq!(
            encode("a😀", Encoding::Gbk),
            Err(EncodeError {
                ch: '😀',
                encoding: Encoding::Gbk
            })
        );
    }

    fn split_decode(bytes: &[u8], cuts: &[usize], encoding: Encoding) -> String {
        let mut d = StreamDecoder::new(encoding);
        let mut out = String::new();
        let mut start = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        for p in points {
            out.push_str(&d.decode(&bytes[start..p.max(start)], false));
            start = p.max(start);
        }
        out.push_str(&d.decode(&bytes[start..], true));
        out
    }

    proptest! {
        #[test]
        fn any_split_decodes_like_the_whole(
            text in "[a-z0-9 你好世界西瓜拜矿泉水]{0,40}",
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            for encoding in [Encoding::Utf8, Encoding::Gbk] {
                let bytes = encode(&text, encoding).expect("encodable");
                prop_assert_eq!(&split_decode(&bytes, &cuts, encoding), &text);
            }
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            cuts in proptest::collection::vec(any::<usize>(), 0..4),
        ) {
            for encoding in [Encoding::Utf8, Encoding::Gbk, Encoding::Latin1] {
                let _ = split_decode(&bytes, &cuts, encoding);
            }
        }
    }
}
