//! The text every benchmark message carries, and finding it again in what
//! the server relays.
//!
//! A message is `~{run}~{sender}.{seq}.{sent_us}~` followed by padding up to
//! the exact size asked for, e.g. `~k3f~3.17.1520344~xxxxxxxx...`, where
//! `run` is the run's [`RunId`] (so a run counts only its own messages, even
//! with another bench talking to the same server). `sent_us` is
//! microseconds since the run's monotonic epoch: senders and receivers live
//! in one process, so a receiver computes latency as `now - sent_us` with no
//! clock synchronisation. The text needs no escaping in JSON or IRC, so it
//! appears byte for byte in the relayed frame whatever the protocol.
//!
//! Receivers never parse frames: [`Scanner`] looks for the marker with a
//! SIMD substring search over everything a read returned, which is what lets
//! one process absorb millions of deliveries per second.

use std::fmt::Write;

use memchr::memmem;

use crate::names::RunId;

/// Bytes of the marker that starts every stamp: `~`, the run id, `~`.
pub const MARKER_LEN: usize = 5;

/// The marker that starts every stamp of run `run`. It appears nowhere
/// else in what a chat server sends (IRC idents may start with `~`, but the
/// ident is followed by `@`, not by three characters and a `~`).
pub fn marker(run: RunId) -> [u8; MARKER_LEN] {
    let id = run.as_str().as_bytes();
    [b'~', id[0], id[1], id[2], b'~']
}

/// The character that pads a message to its size.
pub const PAD: char = 'x';

/// Who sent a message, which of theirs it was, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The sending client's index in the run (0-based).
    pub sender: u32,
    /// The sender's sequence number for this message (0-based).
    pub seq: u64,
    /// When it was written to the socket, in microseconds since the run's epoch.
    pub sent_us: u64,
}

impl Stamp {
    /// Bytes of the stamp on the wire, without padding.
    pub fn encoded_len(&self) -> usize {
        MARKER_LEN
            + digits(self.sender.into())
            + 1
            + digits(self.seq)
            + 1
            + digits(self.sent_us)
            + 1
    }
}

/// The smallest message size that can hold every stamp of a run whose
/// senders, sequence numbers and send times stay within these maxima.
pub fn min_size(max_sender: u32, max_seq: u64, max_sent_us: u64) -> usize {
    Stamp {
        sender: max_sender,
        seq: max_seq,
        sent_us: max_sent_us,
    }
    .encoded_len()
}

/// The stamp did not fit in the requested message size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {needed}-byte stamp does not fit in a {size}-byte message")]
pub struct TooSmall {
    /// Bytes the stamp needs.
    pub needed: usize,
    /// Bytes the message may have.
    pub size: usize,
}

/// Appends a message of exactly `size` bytes carrying `stamp` of run `run`
/// to `out`.
pub fn encode(run: RunId, stamp: Stamp, size: usize, out: &mut String) -> Result<(), TooSmall> {
    let needed = stamp.encoded_len();
    if needed > size {
        return Err(TooSmall { needed, size });
    }
    out.reserve(size);
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "~{run}~{}.{}.{}~",
        stamp.sender, stamp.seq, stamp.sent_us
    );
    out.extend(std::iter::repeat_n(PAD, size - needed));
    Ok(())
}

/// Reads a stamp from the bytes right after a marker; `None` when they
/// are not `{digits}.{digits}.{digits}~` with values that fit.
pub fn parse_after_marker(bytes: &[u8]) -> Option<Stamp> {
    let (sender, rest) = number(bytes, b'.')?;
    let (seq, rest) = number(rest, b'.')?;
    let (sent_us, _) = number(rest, b'~')?;
    Some(Stamp {
        sender: u32::try_from(sender).ok()?,
        seq,
        sent_us,
    })
}

/// A decimal number of 1 to 20 digits followed by `end`; returns it and what
/// follows `end`.
fn number(bytes: &[u8], end: u8) -> Option<(u64, &[u8])> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(21) {
        if b == end && i > 0 {
            return Some((value, &bytes[i + 1..]));
        }
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    None
}

/// Decimal digits of `n`.
fn digits(mut n: u64) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// Finds every stamp of one run in a stretch of received bytes.
#[derive(Debug, Clone)]
pub struct Scanner {
    finder: memmem::Finder<'static>,
}

impl Scanner {
    /// A scanner for the stamps of run `run`.
    pub fn new(run: RunId) -> Self {
        Scanner {
            finder: memmem::Finder::new(&marker(run)).into_owned(),
        }
    }

    /// Calls `found` for each well-formed stamp in `bytes`, in order. Give it
    /// whole lines: a stamp cut off at the end is not seen. A marker followed
    /// by anything but a stamp is skipped.
    pub fn for_each(&self, bytes: &[u8], mut found: impl FnMut(Stamp)) {
        for at in self.finder.find_iter(bytes) {
            if let Some(stamp) = parse_after_marker(&bytes[at + MARKER_LEN..]) {
                found(stamp);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The run `k3f`.
    fn run() -> RunId {
        RunId::new(36 * 36 * 20 + 36 * 3 + 15)
    }

    fn encoded(stamp: Stamp, size: usize) -> String {
        let mut out = String::new();
        encode(run(), stamp, size, &mut out).unwrap();
        out
    }

    #[test]
    fn message_has_exactly_the_requested_size() {
        let stamp = Stamp {
            sender: 3,
            seq: 17,
            sent_us: 1_520_344,
        };
        let text = encoded(stamp, 64);
        assert_eq!(text.len(), 64);
        assert!(text.starts_with("~k3f~3.17.1520344~xxx"), "{text:?}");
        assert_eq!(encoded(stamp, stamp.encoded_len()), "~k3f~3.17.1520344~");
    }

    #[test]
    fn too_small_a_size_is_refused() {
        let stamp = Stamp {
            sender: 12,
            seq: 0,
            sent_us: 99,
        };
        let mut out = String::new();
        assert_eq!(
            encode(run(), stamp, 9, &mut out),
            Err(TooSmall {
                needed: 13,
                size: 9
            })
        );
        assert!(out.is_empty());
        assert_eq!(min_size(12, 0, 99), 13);
        assert_eq!(
            min_size(999, 99_999, 999_999_999),
            5 + 3 + 1 + 5 + 1 + 9 + 1
        );
    }

    #[test]
    fn scanner_finds_stamps_inside_json_and_irc_lines() {
        let json = b"{\"type\":\"message\",\"msg_id\":9,\"room\":\"lobby\",\"sender_id\":2,\
            \"sender_nickname\":\"bk3f1\",\"message\":\"~k3f~1.4.77~xxxx\"}\n\
            {\"type\":\"presence\",\"event\":\"join\",\"message\":\"bk3f2(3) joined lobby\"}\n";
        let irc = b":bk3f0!~bk3f0@127.0.0.1 PRIVMSG #lobby :~k3f~0.5.123~xx\r\nPING :srv\r\n";
        let scanner = Scanner::new(run());
        let mut got = Vec::new();
        scanner.for_each(json, |s| got.push(s));
        scanner.for_each(irc, |s| got.push(s));
        assert_eq!(
            got,
            [
                Stamp {
                    sender: 1,
                    seq: 4,
                    sent_us: 77
                },
                Stamp {
                    sender: 0,
                    seq: 5,
                    sent_us: 123
                }
            ]
        );
    }

    #[test]
    fn other_runs_stamps_are_not_counted() {
        let mut count = 0;
        Scanner::new(RunId::new(1))
            .for_each(b"~001~1.2.3~ ~002~1.2.3~ ~k3f~1.2.3~", |_| count += 1);
        assert_eq!(count, 1);
    }

    #[test]
    fn malformed_or_cut_stamps_are_skipped() {
        let scanner = Scanner::new(run());
        let mut count = 0;
        for bad in [
            &b"~k3f~"[..],
            b"~k3f~1.2.3",
            b"~k3f~1..3~",
            b"~k3f~.1.2~",
            b"~k3f~1.2.x~",
            b"~k3f~99999999999.1.1~",
            b"~k3f~1.2.99999999999999999999999~",
        ] {
            scanner.for_each(bad, |_| count += 1);
        }
        assert_eq!(count, 0);
        // A bad marker does not hide a good stamp after it.
        scanner.for_each(b"~k3f~~k3f~1.2.3~", |_| count += 1);
        assert_eq!(count, 1);
    }

    proptest! {
        #[test]
        fn encode_then_scan_round_trips(
            stamps in prop::collection::vec((any::<u32>(), any::<u64>(), any::<u64>()), 1..20),
            extra in 0usize..40,
        ) {
            let mut stream = String::new();
            let mut want = Vec::new();
            for (sender, seq, sent_us) in stamps {
                let stamp = Stamp { sender, seq, sent_us };
                stream.push_str("PRIVMSG #r :");
                encode(run(), stamp, stamp.encoded_len() + extra, &mut stream).unwrap();
                stream.push_str("\r\n");
                want.push(stamp);
            }
            let mut got = Vec::new();
            Scanner::new(run()).for_each(stream.as_bytes(), |s| got.push(s));
            prop_assert_eq!(got, want);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let mut with_marker = marker(run()).to_vec();
            with_marker.extend_from_slice(&bytes);
            Scanner::new(run()).for_each(&with_marker, |_| {});
            let _ = parse_after_marker(&bytes);
        }
    }
}
