//! Stable error codes: the machine-readable part of every error the server sends.
//!
//! Clients match on these strings, so a code never changes meaning once
//! released; new situations get new codes.

use serde::{Deserialize, Serialize};

/// Why the server refused a request or dropped a frame.
///
/// Serialised as the snake_case string shown on each variant, e.g.
/// `"nickname_taken"`. A client that meets a code it does not know reads it
/// as [`ErrorCode::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// `malformed_json`: the bytes were not a JSON object; the connection stays usable.
    MalformedJson,
    /// `frame_too_large`: one frame passed the size cap; the server closes the connection.
    FrameTooLarge,
    /// `invalid_utf8`: a frame's bytes were not valid UTF-8.
    InvalidUtf8,
    /// `unknown_type`: the `type` field named no request the server knows.
    UnknownType,
    /// `missing_field`: a field the request needs was absent.
    MissingField,
    /// `invalid_field`: a field had the wrong JSON type or an unusable value.
    InvalidField,
    /// `not_logged_in`: the request needs a logged-in session.
    NotLoggedIn,
    /// `already_logged_in`: a second login on the same connection.
    AlreadyLoggedIn,
    /// `nickname_taken`: another online user holds that nickname (case-insensitively).
    NicknameTaken,
    /// `invalid_nickname`: the nickname breaks the rules of [`crate::nick`].
    InvalidNickname,
    /// `empty_message`: a message with no text.
    EmptyMessage,
    /// `slow_consumer`: the client read too slowly and fell past its queue
    /// budget; the server closes the connection.
    SlowConsumer,
    /// `no_such_room`: the room does not exist.
    NoSuchRoom,
    /// `not_in_room`: the request needs membership of the room.
    NotInRoom,
    /// `already_in_room`: a `join` of a room the user is already in.
    AlreadyInRoom,
    /// `invalid_room_name`: the room name breaks the rules of [`crate::room`].
    InvalidRoomName,
    /// `no_such_user`: no user with that nickname is online.
    NoSuchUser,
    /// `rate_limited`: a message over the rate limit was dropped; slow down.
    RateLimited,
    /// `flood`: the client kept flooding past the rate limit; the server closes the connection.
    Flood,
    /// `login_timeout`: the client did not log in in time; the server closes the connection.
    LoginTimeout,
    /// `ping_timeout`: the client did not answer a ping in time; the server closes the connection.
    PingTimeout,
    /// `too_many_connections`: the server or the client's address has too many connections; closed.
    TooManyConnections,
    /// `banned`: the nickname or address is banned.
    Banned,
    /// `message_too_long`: the message is longer than the server allows.
    MessageTooLong,
    /// `too_many_rooms`: the user is in as many rooms as the server allows.
    TooManyRooms,
    /// `wrong_password`: the password does not match the account.
    WrongPassword,
    /// `account_required`: the nickname is registered (or the server requires an account): log in with its password.
    AccountRequired,
    /// `already_registered`: the nickname already has an account.
    AlreadyRegistered,
    /// `no_account`: a login gave a password for a nickname that has no
    /// account (it would not be protected; register it first).
    NoAccount,
    /// `not_operator`: the request needs an operator.
    NotOperator,
    /// `too_many_attempts`: too many password checks from this address or
    /// for this account lately; the message says when to try again.
    TooManyAttempts,
    /// `server_busy`: the server is too busy to do it right now (check a
    /// password; store a message, which was then not sent); try again in a
    /// moment.
    ServerBusy,
    /// `quota_exceeded`: this address created as many rooms or accounts as
    /// the server allows per hour.
    QuotaExceeded,
    /// `internal_error`: the server failed to do something it should have
    /// (e.g. the history store is unavailable); the request may be retried.
    InternalError,
    /// `not_room_operator`: the request needs an operator of the room (or a server operator).
    NotRoomOperator,
    /// `cannot_send`: the room does not take your messages: it is moderated (`+m`) and you have no voice, a ban matches you, or you are outside a room that takes messages only from members.
    CannotSend,
    /// `banned_from_room`: a ban of the room matches you (and no exception does): you cannot join.
    BannedFromRoom,
    /// `invite_only`: the room is invite-only (`+i`) and you were not invited.
    InviteOnly,
    /// `bad_room_key`: the room has a key (`+k`) and the `join` gave another, or none.
    BadRoomKey,
    /// `room_full`: the room has as many members as its limit (`+l`).
    RoomFull,
    /// `list_full`: the room's ban or exception list is full, or the
    /// account lists as many certificates as allowed.
    ListFull,
    /// `no_certificate`: a `cert_add` without a fingerprint on a connection
    /// that presented no TLS client certificate.
    NoCertificate,
    /// `certificate_taken`: another account lists that certificate.
    CertificateTaken,
    /// `unknown_certificate`: the account does not list that certificate.
    UnknownCertificate,
    /// Any code this version of the crate does not know (read side only).
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::InvalidUtf8 => "invalid_utf8",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::NotLoggedIn => "not_logged_in",
            ErrorCode::AlreadyLoggedIn => "already_logged_in",
            ErrorCode::NicknameTaken => "nickname_taken",
            ErrorCode::InvalidNickname => "invalid_nickname",
            ErrorCode::EmptyMessage => "empty_message",
            ErrorCode::SlowConsumer => "slow_consumer",
            ErrorCode::NoSuchRoom => "no_such_room",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::AlreadyInRoom => "already_in_room",
            ErrorCode::InvalidRoomName => "invalid_room_name",
            ErrorCode::NoSuchUser => "no_such_user",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Flood => "flood",
            ErrorCode::LoginTimeout => "login_timeout",
            ErrorCode::PingTimeout => "ping_timeout",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::Banned => "banned",
            ErrorCode::MessageTooLong => "message_too_long",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::WrongPassword => "wrong_password",
            ErrorCode::AccountRequired => "account_required",
            ErrorCode::AlreadyRegistered => "already_registered",
            ErrorCode::NoAccount => "no_account",
            ErrorCode::NotOperator => "not_operator",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::ServerBusy => "server_busy",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::NotRoomOperator => "not_room_operator",
            ErrorCode::CannotSend => "cannot_send",
            ErrorCode::BannedFromRoom => "banned_from_room",
            ErrorCode::InviteOnly => "invite_only",
            ErrorCode::BadRoomKey => "bad_room_key",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::ListFull => "list_full",
            ErrorCode::NoCertificate => "no_certificate",
            ErrorCode::CertificateTaken => "certificate_taken",
            ErrorCode::UnknownCertificate => "unknown_certificate",
            ErrorCode::Other => "other",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_name_matches_as_str() {
        for code in [
            ErrorCode::MalformedJson,
            ErrorCode::FrameTooLarge,
            ErrorCode::InvalidUtf8,
            ErrorCode::UnknownType,
            ErrorCode::MissingField,
            ErrorCode::InvalidField,
            ErrorCode::NotLoggedIn,
            ErrorCode::AlreadyLoggedIn,
            ErrorCode::NicknameTaken,
            ErrorCode::InvalidNickname,
            ErrorCode::EmptyMessage,
            ErrorCode::SlowConsumer,
            ErrorCode::NoSuchRoom,
            ErrorCode::NotInRoom,
            ErrorCode::AlreadyInRoom,
            ErrorCode::InvalidRoomName,
            ErrorCode::NoSuchUser,
            ErrorCode::RateLimited,
            ErrorCode::Flood,
            ErrorCode::LoginTimeout,
            ErrorCode::PingTimeout,
            ErrorCode::TooManyConnections,
            ErrorCode::Banned,
            ErrorCode::MessageTooLong,
            ErrorCode::TooManyRooms,
            ErrorCode::WrongPassword,
            ErrorCode::AccountRequired,
            ErrorCode::AlreadyRegistered,
            ErrorCode::NoAccount,
            ErrorCode::NotOperator,
            ErrorCode::TooManyAttempts,
            ErrorCode::ServerBusy,
            ErrorCode::QuotaExceeded,
            ErrorCode::InternalError,
            ErrorCode::NotRoomOperator,
            ErrorCode::CannotSend,
            ErrorCode::BannedFromRoom,
            ErrorCode::InviteOnly,
            ErrorCode::BadRoomKey,
            ErrorCode::RoomFull,
            ErrorCode::ListFull,
            ErrorCode::NoCertificate,
            ErrorCode::CertificateTaken,
            ErrorCode::UnknownCertificate,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).unwrap();
            assert_eq!(back, code);
        }
    }

    #[test]
    fn unknown_code_reads_as_other() {
        let code: ErrorCode = serde_json::from_str("\"from_the_future\"").unwrap();
        assert_eq!(code, ErrorCode::Other);
    }
}
