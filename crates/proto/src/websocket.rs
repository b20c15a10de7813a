//! The part of WebSocket framing (RFC 6455, section 5.2) that both ends of
//! our connections write: opcodes, and the header of one final frame. The
//! server writes its frames unmasked (`chatroom serve`), the bench's
//! client masked (`chatroom bench --proto ws`); reading is each side's own.

/// Opcode of a frame continuing a fragmented message.
pub const CONTINUATION: u8 = 0x0;
/// Opcode of a text message.
pub const TEXT: u8 = 0x1;
/// Opcode of a binary message.
pub const BINARY: u8 = 0x2;
/// Opcode of a close frame.
pub const CLOSE: u8 = 0x8;
/// Opcode of a ping.
pub const PING: u8 = 0x9;
/// Opcode of a pong.
pub const PONG: u8 = 0xA;

/// The first byte of a final (unfragmented) frame with `opcode`: the FIN
/// bit and the opcode.
pub const fn first_byte(opcode: u8) -> u8 {
    0x80 | opcode
}

/// The longest header of an unmasked frame: two bytes and a 64-bit length.
pub const MAX_HEADER: usize = 10;

/// The longest header of a masked frame: that and the 4-byte mask key.
pub const MAX_MASKED_HEADER: usize = MAX_HEADER + 4;

/// Appends the header of one final frame with `opcode` and a payload of
/// `len` bytes to `out`: the length in the shortest form allowed, and the
/// mask key when there is one (the payload must then be masked with it).
#[inline]
pub fn push_header(out: &mut Vec<u8>, opcode: u8, len: usize, mask: Option<[u8; 4]>) {
    let masked = if mask.is_some() { 0x80 } else { 0 };
    out.push(first_byte(opcode));
    match len {
        0..=125 => out.push(masked | len as u8),
        _ if len <= usize::from(u16::MAX) => {
            out.push(masked | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(masked | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_take_the_shortest_form_rfc_6455_allows() {
        for (len, header) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
            let mut out = Vec::new();
            push_header(&mut out, TEXT, len, None);
            assert_eq!(out.len(), header, "{len}");
            assert_eq!(out[1] & 0x80, 0, "not masked");
            out.clear();
            push_header(&mut out, TEXT, len, Some([1, 2, 3, 4]));
            assert_eq!(out.len(), header + 4, "{len}");
            assert_eq!(out[1] & 0x80, 0x80, "masked");
            assert_eq!(out[header..], [1, 2, 3, 4]);
        }
        let mut out = Vec::new();
        push_header(&mut out, PONG, 300, None);
        assert_eq!(out, [0x8A, 126, 0x01, 0x2C]);
    }
}
