//! How long history is kept: by count and/or age, with per-room overrides.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// The limits for one room (or the default for all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Keep at most this many messages; older ones are deleted.
    pub max_messages: Option<u64>,
    /// Delete messages older than this.
    pub max_age: Option<Duration>,
}

/// The default policy plus per-room overrides (keyed by folded room name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    /// Applies to rooms without an override, and to direct messages (by age).
    pub default: RetentionPolicy,
    /// Per-room policies, by folded room name.
    pub rooms: HashMap<String, RetentionPolicy>,
}

impl Retention {
    /// The policy that applies to a room.
    pub fn for_room(&self, room_key: &str) -> RetentionPolicy {
        self.rooms.get(room_key).copied().unwrap_or(self.default)
    }
}

/// A per-room override as written on the command line:
/// `ROOM:count=N`, `ROOM:age=30d` or `ROOM:count=N,age=30d`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRetention {
    /// The folded room name.
    pub room_key: String,
    /// Its policy.
    pub policy: RetentionPolicy,
}

impl std::fmt::Display for RetentionPolicy {
    /// `count=N,age=D` (the parts that are set), or `unlimited`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(n) = self.max_messages {
            parts.push(format!("count={n}"));
        }
        if let Some(age) = self.max_age {
            parts.push(format!("age={}", humantime::format_duration(age)));
        }
        if parts.is_empty() {
            f.write_str("unlimited")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

impl FromStr for RetentionPolicy {
    type Err = String;

    /// Parses `count=N`, `age=DURATION` or both, comma-separated, or
    /// `unlimited`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut policy = RetentionPolicy::default();
        if s.trim() == "unlimited" {
            return Ok(policy);
        }
        for part in s.split(',') {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("expected count=N or age=DURATION, got {part:?}"))?;
            match key.trim() {
                "count" => {
                    let n: u64 = value
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad count {value:?}"))?;
                    if n == 0 {
                        return Err("count must be at least 1".into());
                    }
                    policy.max_messages = Some(n);
                }
                "age" => {
                    policy.max_age = Some(
                        humantime::parse_duration(value.trim())
                            .map_err(|e| format!("bad age {value:?}: {e}"))?,
                    );
                }
                other => return Err(format!("unknown retention setting {other:?} (count, age)")),
            }
        }
        Ok(policy)
    }
}

impl FromStr for RoomRetention {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (room, policy) = s
            .split_once(':')
            .ok_or_else(|| format!("expected ROOM:count=N,age=DURATION, got {s:?}"))?;
        chatroom_proto::room::validate(room).map_err(|e| e.to_string())?;
        Ok(RoomRetention {
            room_key: chatroom_proto::room::fold(room),
            policy: policy.parse()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_count_age_and_both() {
        assert_eq!(
            "count=100".parse::<RetentionPolicy>(),
            Ok(RetentionPolicy {
                max_messages: Some(100),
                max_age: None
            })
        );
        assert_eq!(
            "age=7d".parse::<RetentionPolicy>(),
            Ok(RetentionPolicy {
                max_messages: None,
                max_age: Some(Duration::from_secs(7 * 86400))
            })
        );
        let r: RoomRetention = "Rust:count=10,age=1h".parse().unwrap();
        assert_eq!(r.room_key, "rust");
        assert_eq!(r.policy.max_messages, Some(10));
        assert_eq!(r.policy.max_age, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn display_parses_back() {
        for text in ["count=10", "age=7days", "count=5,age=1h", "unlimited"] {
            let policy: RetentionPolicy = text.parse().unwrap();
            assert_eq!(
                policy.to_string().parse::<RetentionPolicy>().unwrap(),
                policy
            );
        }
    }

    #[test]
    fn refuses_nonsense() {
        assert!("count=0".parse::<RetentionPolicy>().is_err());
        assert!("count=x".parse::<RetentionPolicy>().is_err());
        assert!("size=1".parse::<RetentionPolicy>().is_err());
        assert!("norule".parse::<RoomRetention>().is_err());
        assert!("#bad:count=1".parse::<RoomRetention>().is_err());
    }

    #[test]
    fn overrides_win() {
        let mut retention = Retention::default();
        retention.default.max_messages = Some(5);
        retention.rooms.insert(
            "rust".into(),
            RetentionPolicy {
                max_messages: Some(9),
                max_age: None,
            },
        );
        assert_eq!(retention.for_room("rust").max_messages, Some(9));
        assert_eq!(retention.for_room("lobby").max_messages, Some(5));
    }
}
