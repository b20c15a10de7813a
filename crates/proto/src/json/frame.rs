//! Server frames: everything the server writes to a JSON client.
//!
//! Each frame is one JSON object on one line, with a `type`. Frames a user
//! should see as chat lines (messages, presence, goodbyes) also carry the
//! tutorial's `sender_id`, `sender_nickname` and `message` fields, so the
//! tutorial's client prints them unchanged; notices from the server come from
//! `sender_id` 0, "System".

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::request::Ref;
use crate::ErrorCode;

/// One frame from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Reply to a successful `login`.
    Welcome(Welcome),
    /// A chat message from another user.
    Message(ChatMessage),
    /// Someone joined or left.
    Presence(Presence),
    /// Reply to a `broadcast` that carried a `ref`: the message was accepted.
    Ack(Ack),
    /// Reply to `ping`.
    Pong(Pong),
    /// A refused request or a dropped frame.
    Error(ErrorFrame),
    /// The server is closing this connection (logout or shutdown).
    Bye(Notice),
    /// A frame type this version does not know (read side only).
    #[serde(other)]
    Unknown,
}

/// `{"type":"welcome","status":"ok","id":1,...}`: the login succeeded.
///
/// `status` and a non-zero `id` are exactly what the tutorial's client checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// Always `"ok"`.
    pub status: String,
    /// The user id the server assigned; never 0 (0 is System).
    pub id: u64,
    /// The nickname as registered.
    pub nickname: String,
    /// The protocol version the server speaks ([`crate::PROTOCOL_VERSION`]).
    pub protocol: u32,
    /// The server software and version, e.g. `chatroom 0.1.0`.
    pub server: String,
    /// The request's `ref`, if it had one.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// A chat message relayed to its receivers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Server-assigned id, increasing in the order messages were accepted.
    pub msg_id: u64,
    /// When the server accepted it, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// The room it was said in.
    pub room: String,
    /// Who said it.
    pub sender_id: u64,
    /// Their nickname at the time.
    pub sender_nickname: String,
    /// The text.
    pub message: String,
}

/// What kind of presence change happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceEvent {
    /// A user came online / into the room.
    Join,
    /// A user went offline / out of the room.
    Leave,
}

/// A notice from System that a user joined or left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    /// Join or leave.
    pub event: PresenceEvent,
    /// The room concerned.
    pub room: String,
    /// The user who joined or left.
    pub user_id: u64,
    /// Their nickname.
    pub nickname: String,
    /// When, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// Why they left (`logout`, `closed`, `reset`, `shutdown`...), for leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Always 0: notices come from System.
    pub sender_id: u64,
    /// Always "System".
    pub sender_nickname: String,
    /// The notice as text, for clients that only print `message`.
    pub message: String,
}

/// `{"type":"ack",...}`: a message was accepted and relayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// The id the message got.
    pub msg_id: u64,
    /// The time it got, in milliseconds since the Unix epoch.
    pub ts: i64,
}

/// `{"type":"pong"}`: the answer to a ping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pong {
    /// The request's `ref`, if it had one.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// `{"type":"error","code":"...","message":"..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// The stable machine-readable code.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
    /// The failed request's `ref`, when it could be read.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// A line from System, e.g. the goodbye before the server closes a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Always 0: System.
    pub sender_id: u64,
    /// Always "System".
    pub sender_nickname: String,
    /// The text.
    pub message: String,
    /// The `ref` of the request this answers, if any.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Encodes a frame as one line: the JSON object followed by `\n`.
pub fn encode_frame(frame: &ServerFrame) -> Bytes {
    let mut out = Vec::with_capacity(128);
    // Writing our own plain structs into a Vec cannot fail: every key is a
    // string and every value a string, number, bool or nested struct.
    serde_json::to_writer(&mut out, frame).expect("server frames always serialise");
    out.push(b'\n');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welcome_satisfies_the_tutorial_client() {
        let bytes = encode_frame(&ServerFrame::Welcome(Welcome {
            status: "ok".into(),
            id: 1,
            nickname: "zhangsan".into(),
            protocol: 1,
            server: "chatroom 0.1.0".into(),
            reference: None,
        }));
        assert!(bytes.ends_with(b"}\n"));
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["type"], "welcome");
        assert_eq!(v["status"], "ok");
        assert_eq!(v["id"], 1);
        assert!(v.get("ref").is_none());
    }

    #[test]
    fn message_carries_the_tutorial_fields() {
        let frame = ServerFrame::Message(ChatMessage {
            msg_id: 9,
            ts: 1_700_000_000_000,
            room: "lobby".into(),
            sender_id: 3,
            sender_nickname: "李四".into(),
            message: "你好\n世界".into(),
        });
        let bytes = encode_frame(&frame);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["sender_id"], 3);
        assert_eq!(v["sender_nickname"], "李四");
        assert_eq!(v["message"], "你好\n世界");
        // Newlines inside text are escaped: one frame, one line.
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        let back: ServerFrame = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, frame);
    }

    #[test]
    fn unknown_frame_types_are_tolerated() {
        let back: ServerFrame = serde_json::from_str(r#"{"type":"hologram","x":1}"#).unwrap();
        assert_eq!(back, ServerFrame::Unknown);
    }

    #[test]
    fn error_frame_round_trip() {
        let frame = ServerFrame::Error(ErrorFrame {
            code: ErrorCode::NicknameTaken,
            message: "taken".into(),
            reference: Some(Ref::Text("r1".into())),
        });
        let text = String::from_utf8(encode_frame(&frame).to_vec()).unwrap();
        assert_eq!(
            text,
            "{\"type\":\"error\",\"code\":\"nickname_taken\",\"message\":\"taken\",\"ref\":\"r1\"}\n"
        );
        let back: ServerFrame = serde_json::from_str(&text).unwrap();
        assert_eq!(back, frame);
    }
}
