//! Names a run uses on the server: its id, and its clients' nicknames.
//!
//! Every run draws a [`RunId`] of three base-36 characters. It goes into
//! the nicknames (`b` + run id + client index in base 36, e.g. `bk3f1a`),
//! so two runs against one server, or the steps of `--find-max`, never
//! collide, and into the payload marker, so a run counts only its own
//! messages. Nicknames stay within nine characters for up to 36^5 clients,
//! the limit many IRC servers keep (ngIRCd's default is 9), and are valid in
//! the chatroom protocol (`chatroom_proto::nick`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Characters of a base-36 number.
const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Number of distinct run ids (36^3).
const RUN_IDS: u32 = 36 * 36 * 36;

/// Identifies one run: three characters from `[0-9a-z]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunId([u8; 3]);

impl RunId {
    /// The id numbered `n` (taken modulo 36^3).
    pub fn new(n: u32) -> Self {
        let n = n % RUN_IDS;
        RunId([
            DIGITS[(n / (36 * 36)) as usize],
            DIGITS[(n / 36 % 36) as usize],
            DIGITS[(n % 36) as usize],
        ])
    }

    /// A fresh id: the process's first draw comes from the clock and the
    /// process id; each later draw steps through all 36^3 ids before
    /// repeating one.
    pub fn fresh() -> Self {
        static BASE: OnceLock<u32> = OnceLock::new();
        static DRAWN: AtomicU32 = AtomicU32::new(0);
        let base = *BASE.get_or_init(|| {
            let clock = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos() ^ d.as_secs() as u32);
            clock
                .wrapping_mul(2_654_435_761)
                .wrapping_add(std::process::id())
        });
        let count = DRAWN.fetch_add(1, Ordering::Relaxed) % RUN_IDS;
        // 7919 is prime and shares no factor with 36^3 = 2^6 x 3^6, so
        // successive counts give distinct ids.
        RunId::new((base % RUN_IDS + count * 7919) % RUN_IDS)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Always three ASCII characters from DIGITS.
        std::str::from_utf8(&self.0).unwrap_or("000")
    }

    /// The nickname of client `index` in this run.
    pub fn nick(&self, index: u32) -> String {
        let mut nick = String::with_capacity(12);
        nick.push('b');
        nick.push_str(self.as_str());
        nick.push_str(&base36(index));
        nick
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `n` in base 36, lower case.
fn base36(mut n: u32) -> String {
    let mut digits = Vec::with_capacity(7);
    loop {
        digits.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatroom_proto::nick;

    #[test]
    fn nicknames_are_short_unique_and_valid() {
        let run = RunId::new(36 * 36 * 20 + 36 * 3 + 15);
        assert_eq!(run.as_str(), "k3f");
        assert_eq!(run.nick(0), "bk3f0");
        assert_eq!(run.nick(35), "bk3fz");
        assert_eq!(run.nick(36), "bk3f10");
        assert_eq!(run.nick(9_999), "bk3f7pr");
        assert_eq!(run.nick(36u32.pow(5) - 1).len(), 9);
        let mut seen = std::collections::HashSet::new();
        for i in 0..20_000 {
            let n = run.nick(i);
            assert_eq!(nick::validate(&n), Ok(()), "{n}");
            assert!(seen.insert(nick::fold(&n)), "{n} repeated");
        }
    }

    #[test]
    fn ids_wrap_and_fresh_ids_differ_in_a_row() {
        assert_eq!(RunId::new(0).as_str(), "000");
        assert_eq!(RunId::new(RUN_IDS - 1).as_str(), "zzz");
        assert_eq!(RunId::new(RUN_IDS), RunId::new(0));
        let a = RunId::fresh();
        let b = RunId::fresh();
        assert_ne!(a, b);
    }
}
