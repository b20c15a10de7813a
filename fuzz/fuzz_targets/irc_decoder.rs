//! Fuzz target: any bytes through the IRC decoder (`IrcFramer`, then
//! `parse`, `lookup` and re-encoding for every line), cut in two at an
//! input-chosen point, under input-chosen length limits. The properties are
//! in `chatroom_fuzz::irc`; the input layout in `chatroom_fuzz::FuzzInput`.
#![no_main]

use chatroom_fuzz::{FuzzInput, irc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = FuzzInput::parse(data);
    let limits = irc::LIMITS[input.pick(irc::LIMITS.len())];
    irc::check(input.bytes, input.split, limits);
});
