//! What the chatroom fuzz targets check, as plain functions.
//!
//! The decoders of `chatroom-proto` read bytes from strangers; these
//! modules state what must hold for *any* bytes, so that libFuzzer (the
//! targets in `fuzz_targets/`, nightly only) and proptest (the stable
//! suites `crates/proto/tests/fuzz_json.rs` and `fuzz_irc.rs`, which
//! compile the same two files with `#[path]`) search for counterexamples to
//! exactly the same properties:
//!
//! - [`json`]: `JsonFramer` and `parse_request`;
//! - [`irc`]: `IrcFramer`, `parse`, `lookup` and `Message::encode`.
//!
//! Those two modules use nothing but `chatroom-proto` and `std`, so that
//! they compile unchanged inside the proto crate's tests. This file only
//! adds [`FuzzInput`], how a target reads its raw input.
#![forbid(unsafe_code)]

pub mod irc;
pub mod json;

/// One fuzz input, read as a small header followed by the stream to decode.
///
/// Byte 0 picks a decoder configuration (`choice`, e.g. which size cap);
/// bytes 1-2 (a big-endian `u16`) say where to cut the stream in two, as a
/// fraction of its length, so that every cut point of short and long
/// inputs alike can be reached. Inputs shorter than the header are
/// decoded whole with the first configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuzzInput<'a> {
    /// Which configuration to decode with (taken modulo the number of them).
    pub choice: u8,
    /// Where to cut `bytes`: `0..=bytes.len()`.
    pub split: usize,
    /// The stream itself.
    pub bytes: &'a [u8],
}

impl<'a> FuzzInput<'a> {
    /// Length of the header in front of the stream.
    pub const HEADER: usize = 3;

    /// Reads the header (see the type's documentation).
    pub fn parse(data: &'a [u8]) -> Self {
        let Some((header, bytes)) = data.split_at_checked(Self::HEADER) else {
            return FuzzInput {
                choice: 0,
                split: 0,
                bytes: data,
            };
        };
        let fraction = usize::from(u16::from_be_bytes([header[1], header[2]]));
        FuzzInput {
            choice: header[0],
            split: (fraction * (bytes.len() + 1)) >> 16,
            bytes,
        }
    }

    /// `choice` as an index into a table of `n` configurations.
    pub fn pick(&self, n: usize) -> usize {
        usize::from(self.choice) % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_choice_then_split_fraction() {
        let input = FuzzInput::parse(b"\x05\x80\x00abcdefgh");
        assert_eq!(input.choice, 5);
        assert_eq!(input.bytes, b"abcdefgh");
        assert_eq!(input.split, 4);
        assert_eq!(input.pick(4), 1);
        assert_eq!(FuzzInput::parse(b"\x00\xff\xffab").split, 2);
        assert_eq!(FuzzInput::parse(b"\x00\x00\x00ab").split, 0);
        let short = FuzzInput::parse(b"{}");
        assert_eq!((short.choice, short.split, short.bytes), (0, 0, &b"{}"[..]));
    }
}
