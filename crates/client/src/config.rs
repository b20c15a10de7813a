//! The client's configuration file, `client.toml` in the XDG configuration
//! directory (`$XDG_CONFIG_HOME/chatroom/client.toml`, by default
//! `~/.config/chatroom/client.toml`): the server, nickname and TLS that
//! `chatroom join` uses when no flag says otherwise, and the full-screen
//! client's look (highlight words, timestamp format, colours, bell, title)
//! and chat logs. Every key is optional; an unknown key or a bad value is an
//! error that names it, not a silent default.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::tui::look::{Look, check_timestamp, parse_colour};

/// The file name inside `chatroom/` in the configuration directory.
pub const FILE_NAME: &str = "client.toml";

/// What `client.toml` may say.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// The server, `HOST:PORT`.
    pub server: Option<String>,
    /// The nickname to log in with.
    pub nick: Option<String>,
    /// The environment variable holding the nickname's account password.
    pub password_env: Option<String>,
    /// Connect with TLS.
    pub tls: bool,
    /// With TLS: trust the certificates in this PEM file.
    pub ca: Option<PathBuf>,
    /// With TLS: present this client certificate (PEM).
    pub cert: Option<PathBuf>,
    /// The private key of `cert` (PEM), if not in `cert`'s file.
    pub key: Option<PathBuf>,
    /// Words that mention you besides your nickname.
    pub highlight: Vec<String>,
    /// How times are shown: `%H:%M` (the default) or `%H:%M:%S`, or any
    /// strftime format.
    pub timestamp: Option<String>,
    /// Ring the terminal bell on a mention or a direct message (default true).
    pub bell: Option<bool>,
    /// Show unseen mentions in the terminal's title (default true).
    pub title: Option<bool>,
    /// Nicknames whose messages are hidden from the start.
    pub ignore: Vec<String>,
    /// Keep chat logs here, one file per window per day.
    pub log_dir: Option<PathBuf>,
    /// Colours, by name, 0-255 or `#rrggbb`.
    pub colours: ColourNames,
}

/// The `[colours]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ColourNames {
    /// Timestamps.
    pub time: Option<String>,
    /// Notices' `-!-`.
    pub notice: Option<String>,
    /// Errors.
    pub error: Option<String>,
    /// A mentioning nickname's text.
    pub mention: Option<String>,
    /// A mentioning nickname's background.
    pub mention_background: Option<String>,
    /// Links.
    pub link: Option<String>,
    /// The unread marker.
    pub marker: Option<String>,
}

/// Why the configuration file could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// It could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not valid TOML for the client, or a value is bad.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Where the configuration file is: `$XDG_CONFIG_HOME/chatroom/client.toml`,
/// or `$HOME/.config/chatroom/client.toml` (the XDG base directory rules);
/// `None` when neither variable is set.
pub fn default_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(base.join("chatroom").join(FILE_NAME))
}

impl ClientConfig {
    /// Reads `path`; a file that does not exist is an empty configuration
    /// when `optional` (the default path), an error otherwise.
    pub fn load(path: &Path, optional: bool) -> Result<ClientConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ClientConfig::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: shown,
                    source,
                });
            }
        };
        let config: ClientConfig = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        config.look().map_err(|message| ConfigError::Invalid {
            path: shown,
            message,
        })?;
        Ok(config)
    }

    /// The full-screen client's look this configuration asks for.
    pub fn look(&self) -> Result<Look, String> {
        let mut look = Look {
            highlight: self.highlight.clone(),
            ..Look::default()
        };
        if let Some(format) = &self.timestamp {
            check_timestamp(format).map_err(|e| format!("timestamp: {e}"))?;
            look.timestamp = format.clone();
        }
        look.bell = self.bell.unwrap_or(look.bell);
        look.title = self.title.unwrap_or(look.title);
        let colours = &mut look.colours;
        for (name, value, slot) in [
            ("time", &self.colours.time, &mut colours.time),
            ("notice", &self.colours.notice, &mut colours.notice),
            ("error", &self.colours.error, &mut colours.error),
            ("mention", &self.colours.mention, &mut colours.mention_fg),
            (
                "mention_background",
                &self.colours.mention_background,
                &mut colours.mention_bg,
            ),
            ("link", &self.colours.link, &mut colours.link),
            ("marker", &self.colours.marker, &mut colours.marker),
        ] {
            if let Some(value) = value {
                *slot = parse_colour(value).map_err(|e| format!("colours.{name}: {e}"))?;
            }
        }
        Ok(look)
    }
}

#[cfg(test)]
mod tests {
    use ratatui::style::Color;

    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_full_file_is_read() {
        let (_dir, path) = write(
            r##"
server = "chat.example:8000"
nick = "alice"
tls = true
cert = "/home/alice/chat.pem"
key = "/home/alice/chat-key.pem"
highlight = ["rust", "部署"]
timestamp = "%H:%M:%S"
bell = false
ignore = ["troll"]
log_dir = "/tmp/chatlogs"
[colours]
time = "gray"
mention_background = "#ffaa00"
"##,
        );
        let config = ClientConfig::load(&path, false).unwrap();
        assert_eq!(config.server.as_deref(), Some("chat.example:8000"));
        assert!(config.tls);
        assert_eq!(config.cert, Some(PathBuf::from("/home/alice/chat.pem")));
        assert_eq!(config.key, Some(PathBuf::from("/home/alice/chat-key.pem")));
        let look = config.look().unwrap();
        assert_eq!(look.timestamp, "%H:%M:%S");
        assert_eq!(look.highlight, ["rust", "部署"]);
        assert!(!look.bell && look.title);
        assert_eq!(look.colours.time, Color::Gray);
        assert_eq!(look.colours.mention_bg, Color::Rgb(255, 170, 0));
    }

    #[test]
    fn mistakes_name_themselves() {
        for (text, says) in [
            ("nik = \"x\"", "unknown field `nik`"),
            ("timestamp = \"%Q\"", "timestamp"),
            ("[colours]\nlink = \"mauve-ish\"", "colours.link"),
            ("bell = \"yes\"", "bell"),
        ] {
            let (_dir, path) = write(text);
            let e = ClientConfig::load(&path, false).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
        let missing = Path::new("/nonexistent/client.toml");
        assert_eq!(
            ClientConfig::load(missing, true).unwrap(),
            ClientConfig::default()
        );
        assert!(ClientConfig::load(missing, false).is_err());
    }
}
