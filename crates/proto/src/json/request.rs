//! Client requests: one JSON object in, one validated [`Request`] out.
//!
//! Every object needs a `type`; it may carry a `ref` (a string or number the
//! reply echoes, so a client can match replies to requests). Unknown fields
//! are ignored, which is how the tutorial client's `sender_id` is ignored:
//! the server always knows who sent a message. Each way a request can be
//! wrong has its own [`ErrorCode`].

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ErrorCode;

/// A client-chosen correlation value: echoed in the reply to its request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ref {
    /// A JSON number.
    Number(serde_json::Number),
    /// A JSON string of at most [`Ref::MAX_LEN`] bytes.
    Text(String),
}

impl Ref {
    /// The longest string `ref` the server accepts.
    pub const MAX_LEN: usize = 64;
}

/// What a client asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `{"type":"login","nickname":"..."}`: take a nickname, get a user id.
    Login {
        /// The wanted nickname (not yet checked against the nickname rules).
        nickname: String,
    },
    /// `{"type":"broadcast","message":"..."}`: say something to everyone online.
    Broadcast {
        /// The text; never empty.
        message: String,
    },
    /// `{"type":"logout"}`: leave; the server says goodbye and closes.
    Logout,
    /// `{"type":"ping"}`: asks for a `pong`, to check the connection.
    Ping,
}

/// A request with its correlation value.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The `ref` to echo, if the client sent one.
    pub reference: Option<Ref>,
    /// The request itself.
    pub request: Request,
}

/// A request the server refuses, with what to tell the client.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    /// The stable code.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
    /// The request's `ref`, when it could be read.
    pub reference: Option<Ref>,
}

impl RequestError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RequestError {
            code,
            message: message.into(),
            reference: None,
        }
    }
}

impl Request {
    /// The request's `type` on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Login { .. } => "login",
            Request::Broadcast { .. } => "broadcast",
            Request::Logout => "logout",
            Request::Ping => "ping",
        }
    }
}

/// Encodes a request as a client sends it: one JSON object and a newline
/// (the server needs no delimiter; the newline keeps logs and captures readable).
pub fn encode_request(request: &Request, reference: Option<&Ref>) -> Vec<u8> {
    let mut object = serde_json::Map::new();
    object.insert("type".into(), request.kind().into());
    if let Some(reference) = reference {
        object.insert("ref".into(), serde_json::json!(reference));
    }
    match request {
        Request::Login { nickname } => {
            object.insert("nickname".into(), nickname.as_str().into());
        }
        Request::Broadcast { message } => {
            object.insert("message".into(), message.as_str().into());
        }
        Request::Logout | Request::Ping => {}
    }
    let mut out = serde_json::Value::Object(object).to_string().into_bytes();
    out.push(b'\n');
    out
}

/// Every field any request uses, each kept raw so that a wrong field can be
/// named in the error and the others (notably `ref`) still read.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a RawValue>,
    #[serde(rename = "ref", borrow)]
    reference: Option<&'a RawValue>,
    #[serde(borrow)]
    nickname: Option<&'a RawValue>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
}

/// Parses one framed JSON object (as cut by [`crate::json::JsonFramer`]).
pub fn parse_request(frame: &[u8]) -> Result<Envelope, RequestError> {
    let text = std::str::from_utf8(frame).map_err(|e| {
        RequestError::new(
            ErrorCode::InvalidUtf8,
            format!("frame is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    let fields: Fields = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            RequestError::new(ErrorCode::InvalidField, format!("unusable field: {e}"))
        }
        _ => RequestError::new(ErrorCode::MalformedJson, format!("malformed JSON: {e}")),
    })?;
    let reference = match fields.reference {
        Some(raw) => Some(parse_ref(raw)?),
        None => None,
    };
    fields_to_request(&fields)
        .map(|request| Envelope {
            reference: reference.clone(),
            request,
        })
        .map_err(|mut e| {
            e.reference = reference;
            e
        })
}

fn parse_ref(raw: &RawValue) -> Result<Ref, RequestError> {
    match serde_json::from_str::<Ref>(raw.get()) {
        Ok(Ref::Text(s)) if s.len() > Ref::MAX_LEN => Err(RequestError::new(
            ErrorCode::InvalidField,
            format!("field `ref` is longer than {} bytes", Ref::MAX_LEN),
        )),
        Ok(r) => Ok(r),
        Err(_) => Err(RequestError::new(
            ErrorCode::InvalidField,
            "field `ref` must be a string or a number",
        )),
    }
}

fn fields_to_request(fields: &Fields) -> Result<Request, RequestError> {
    let kind: String = required(fields.kind, "type")?;
    match kind.as_str() {
        "login" => Ok(Request::Login {
            nickname: required(fields.nickname, "nickname")?,
        }),
        "broadcast" => {
            let message: String = required(fields.message, "message")?;
            if message.is_empty() {
                return Err(RequestError::new(
                    ErrorCode::EmptyMessage,
                    "field `message` is empty",
                ));
            }
            Ok(Request::Broadcast { message })
        }
        "logout" => Ok(Request::Logout),
        "ping" => Ok(Request::Ping),
        other => Err(RequestError::new(
            ErrorCode::UnknownType,
            format!("unknown request type {other:?}"),
        )),
    }
}

/// Reads a field that must be present (and not null) as a `T`.
fn required<T: for<'de> Deserialize<'de>>(
    raw: Option<&RawValue>,
    name: &str,
) -> Result<T, RequestError> {
    let raw = raw.ok_or_else(|| {
        RequestError::new(
            ErrorCode::MissingField,
            format!("field `{name}` is missing"),
        )
    })?;
    serde_json::from_str(raw.get()).map_err(|_| {
        RequestError::new(
            ErrorCode::InvalidField,
            format!(
                "field `{name}` has the wrong type (found {})",
                json_kind(raw)
            ),
        )
    })
}

/// Names the kind of a JSON value for error messages, without echoing it.
fn json_kind(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request_strategy() -> impl Strategy<Value = Request> {
        prop_oneof![
            any::<String>().prop_map(|nickname| Request::Login { nickname }),
            ".+".prop_map(|message| Request::Broadcast { message }),
            Just(Request::Logout),
            Just(Request::Ping),
        ]
    }

    fn ref_strategy() -> impl Strategy<Value = Option<Ref>> {
        prop_oneof![
            Just(None),
            any::<u64>().prop_map(|n| Some(Ref::Number(n.into()))),
            "\\PC{0,16}".prop_map(|s| Some(Ref::Text(s))),
        ]
    }

    proptest! {
        #[test]
        fn encoded_requests_parse_back(request in request_strategy(), reference in ref_strategy()) {
            let bytes = encode_request(&request, reference.as_ref());
            let envelope = parse_request(bytes.trim_ascii_end()).unwrap();
            prop_assert_eq!(envelope.request, request);
            prop_assert_eq!(envelope.reference, reference);
        }
    }

    fn ok(json: &str) -> Envelope {
        parse_request(json.as_bytes()).unwrap()
    }

    fn err(json: &[u8]) -> RequestError {
        parse_request(json).unwrap_err()
    }

    #[test]
    fn tutorial_login_and_broadcast() {
        assert_eq!(
            ok(r#"{"type": "login", "nickname": "zhangsan"}"#).request,
            Request::Login {
                nickname: "zhangsan".into()
            }
        );
        // The tutorial client sends its own id; the server ignores it.
        assert_eq!(
            ok(r#"{"type": "broadcast", "sender_id": 99, "message": "你好"}"#).request,
            Request::Broadcast {
                message: "你好".into()
            }
        );
    }

    #[test]
    fn ref_is_kept_and_echoed_on_errors() {
        let env = ok(r#"{"type":"ping","ref":"a1"}"#);
        assert_eq!(env.reference, Some(Ref::Text("a1".into())));
        let env = ok(r#"{"type":"ping","ref":7}"#);
        assert_eq!(env.reference, Some(Ref::Number(7.into())));
        let e = err(br#"{"type":"nope","ref":7}"#);
        assert_eq!(e.code, ErrorCode::UnknownType);
        assert_eq!(e.reference, Some(Ref::Number(7.into())));
    }

    #[test]
    fn each_mistake_has_its_code() {
        assert_eq!(err(br#"{"type":"login"}"#).code, ErrorCode::MissingField);
        assert_eq!(err(br#"{"nickname":"x"}"#).code, ErrorCode::MissingField);
        assert_eq!(
            err(br#"{"type":"login","nickname":null}"#).code,
            ErrorCode::MissingField
        );
        assert_eq!(
            err(br#"{"type":"login","nickname":5}"#).code,
            ErrorCode::InvalidField
        );
        assert_eq!(err(br#"{"type":7}"#).code, ErrorCode::InvalidField);
        assert_eq!(err(br#"{"type":"fly"}"#).code, ErrorCode::UnknownType);
        assert_eq!(
            err(br#"{"type":"broadcast","message":""}"#).code,
            ErrorCode::EmptyMessage
        );
        assert_eq!(
            err(br#"{"type":"ping","ref":[1]}"#).code,
            ErrorCode::InvalidField
        );
        assert_eq!(
            err(br#"{"type":"ping","ref":"#).code,
            ErrorCode::MalformedJson
        );
        assert_eq!(err(br#"{"type":"ping",}"#).code, ErrorCode::MalformedJson);
        assert_eq!(
            err(b"{\"type\":\"broadcast\",\"message\":\"\xff\"}").code,
            ErrorCode::InvalidUtf8
        );
        assert_eq!(
            err(br#"{"type":"ping","type":"ping"}"#).code,
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn long_string_ref_is_refused() {
        let json = format!(r#"{{"type":"ping","ref":"{}"}}"#, "x".repeat(65));
        assert_eq!(err(json.as_bytes()).code, ErrorCode::InvalidField);
    }

    #[test]
    fn nesting_as_deep_as_the_frame_cap_allows_is_no_crash() {
        // 64 KiB of brackets, in an ignored field and in a used one.
        let deep = format!("{}{}", "[".repeat(32 * 1024), "]".repeat(32 * 1024));
        let json = format!(r#"{{"type":"ping","x":{deep}}}"#);
        assert_eq!(ok(&json).request, Request::Ping);
        let json = format!(r#"{{"type":"broadcast","message":{deep}}}"#);
        let e = err(json.as_bytes());
        assert_eq!(e.code, ErrorCode::InvalidField);
        assert_eq!(
            e.message,
            "field `message` has the wrong type (found an array)"
        );
    }

    #[test]
    fn escaped_text_is_unescaped() {
        assert_eq!(
            ok(r#"{"type":"broadcast","message":"a\"b\n\u4f60"}"#).request,
            Request::Broadcast {
                message: "a\"b\n你".into()
            }
        );
    }
}
