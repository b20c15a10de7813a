//! What the stable fuzz tests of both decoders share: hostile byte
//! sequences and the mutations that splice them into valid streams.

use proptest::prelude::*;
use proptest::sample::Index;

/// Byte sequences that are not UTF-8: stray continuation bytes, truncated
/// sequences, overlong forms, surrogates, code points past U+10FFFF.
pub const INVALID_UTF8: [&[u8]; 9] = [
    b"\xff",
    b"\x80",
    b"\xc3",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\xc0\xaf",
    b"\xe0\x80\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
];

/// One change to a byte stream.
#[derive(Debug, Clone)]
pub enum Mutation {
    Truncate(Index),
    Flip(Index, u8),
    Remove(Index),
    Insert(Index, Vec<u8>),
}

/// Mutations, inserting what `nasty` makes (the protocol's own hostile
/// bytes) more often than truncating, flipping or removing.
pub fn mutation(nasty: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1u8..).prop_map(|(at, bits)| Mutation::Flip(at, bits)),
        1 => any::<Index>().prop_map(Mutation::Remove),
        3 => (any::<Index>(), nasty).prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
    ]
}

/// Applies `mutations` to `bytes` in order.
pub fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        match mutation {
            Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len() + 1)),
            Mutation::Flip(at, bits) if !bytes.is_empty() => {
                let at = at.index(bytes.len());
                bytes[at] ^= bits;
            }
            Mutation::Remove(at) if !bytes.is_empty() => {
                bytes.remove(at.index(bytes.len()));
            }
            Mutation::Insert(at, insert) => {
                let at = at.index(bytes.len() + 1);
                bytes.splice(at..at, insert.iter().copied());
            }
            Mutation::Flip(..) | Mutation::Remove(_) => {}
        }
    }
    bytes
}
