//! What the hub's and the accounts' refusals are called in the JSON
//! protocol (docs/protocol.md, "Errors").

use chatroom_proto::ErrorCode;

use crate::accounts::AccountError;
use crate::hub::HubError;

/// The error code for a refusal of the hub.
pub fn hub_error(error: &HubError) -> ErrorCode {
    match error {
        HubError::BadNick(_) => ErrorCode::InvalidNickname,
        HubError::NickTaken(_) | HubError::LooksLike(_) => ErrorCode::NicknameTaken,
        HubError::BadRoom(_) => ErrorCode::InvalidRoomName,
        HubError::NoSuchRoom(_) => ErrorCode::NoSuchRoom,
        HubError::NotInRoom(_) => ErrorCode::NotInRoom,
        HubError::AlreadyInRoom(_) => ErrorCode::AlreadyInRoom,
        HubError::NoSuchUser(_) => ErrorCode::NoSuchUser,
        HubError::TopicTooLong => ErrorCode::InvalidField,
        HubError::Gone => ErrorCode::NotLoggedIn,
        HubError::AccountRequired(_) => ErrorCode::AccountRequired,
        HubError::TooManyRooms(_) => ErrorCode::TooManyRooms,
        HubError::MessageTooLong(_) => ErrorCode::MessageTooLong,
        HubError::NotOperator => ErrorCode::NotOperator,
        HubError::TooManyNewRooms => ErrorCode::QuotaExceeded,
        HubError::Banned(_) => ErrorCode::Banned,
        HubError::NoAccount(_) => ErrorCode::NoAccount,
        HubError::NotRoomOperator(_) => ErrorCode::NotRoomOperator,
        HubError::CannotSend(..) => ErrorCode::CannotSend,
        HubError::BannedFromRoom(_) => ErrorCode::BannedFromRoom,
        HubError::InviteOnly(_) => ErrorCode::InviteOnly,
        HubError::BadKey(_) => ErrorCode::BadRoomKey,
        HubError::RoomFull(_) => ErrorCode::RoomFull,
        HubError::TheyAreNotInRoom(..) => ErrorCode::NotInRoom,
        HubError::TheyAreInRoom(..) => ErrorCode::AlreadyInRoom,
        HubError::ListFull(..) => ErrorCode::ListFull,
        HubError::ClusterDown(_) => ErrorCode::InternalError,
    }
}

/// The error code for a refusal about an account or a password.
pub fn account_error(error: &AccountError) -> ErrorCode {
    match error {
        AccountError::Required(_) => ErrorCode::AccountRequired,
        AccountError::WrongPassword(_) => ErrorCode::WrongPassword,
        AccountError::AlreadyRegistered(_) => ErrorCode::AlreadyRegistered,
        AccountError::BadPassword(_) => ErrorCode::InvalidField,
        AccountError::InvalidNickname(_) => ErrorCode::InvalidNickname,
        AccountError::InUse(_) | AccountError::LooksLike(_) => ErrorCode::NicknameTaken,
        AccountError::Banned(..) => ErrorCode::Banned,
        AccountError::TooManyAttempts(_) => ErrorCode::TooManyAttempts,
        AccountError::Busy => ErrorCode::ServerBusy,
        AccountError::QuotaExceeded => ErrorCode::QuotaExceeded,
        AccountError::NoAccount => ErrorCode::NoAccount,
        AccountError::NoCertificate => ErrorCode::NoCertificate,
        AccountError::UnknownCertificate(_) => ErrorCode::UnknownCertificate,
        AccountError::CertificateTaken(_) => ErrorCode::CertificateTaken,
        AccountError::TooManyCertificates => ErrorCode::ListFull,
        AccountError::Internal(_) => ErrorCode::InternalError,
    }
}
