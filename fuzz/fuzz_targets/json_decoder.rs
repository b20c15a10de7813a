//! Fuzz target: any bytes through the JSON decoder (`JsonFramer`, then
//! `parse_request` for every frame), cut in two at an input-chosen point,
//! under an input-chosen size cap. The properties are in
//! `chatroom_fuzz::json`; the input layout in `chatroom_fuzz::FuzzInput`.
#![no_main]

use chatroom_fuzz::{FuzzInput, json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = FuzzInput::parse(data);
    let cap = json::CAPS[input.pick(json::CAPS.len())];
    json::check(input.bytes, input.split, cap);
});
