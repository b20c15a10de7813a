//! What can be switched while a session runs, like the check boxes of the
//! NetAssist window: the encoding, the view (text / hex / both), how input
//! lines are read (text / hex), the line ending and escapes in sent text.
//!
//! The flags set the starting values; `/encoding gbk`, `/view hex`,
//! `/input hex`, `/eol crlf` and `/escapes on` change them for everything
//! that follows, on every connection of the run.

use std::fmt;

use clap::ValueEnum;

use crate::encoding::Encoding;
use crate::options::{InputMode, LineEnding, View};

/// The values in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Text encoding on the wire, both directions.
    pub encoding: Encoding,
    /// How data is shown.
    pub view: View,
    /// How input lines are read.
    pub input_mode: InputMode,
    /// What is appended to sent text.
    pub eol: LineEnding,
    /// Whether `\r`, `\n`, `\t`, `\0`, `\\` and `\xNN` in sent text are escapes.
    pub escapes: bool,
}

/// One change, from a typed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `/encoding utf-8|gbk|latin-1`
    Encoding(Encoding),
    /// `/view text|hex|both`
    View(View),
    /// `/input text|hex`
    Input(InputMode),
    /// `/eol none|lf|crlf`
    Eol(LineEnding),
    /// `/escapes on|off`
    Escapes(bool),
}

/// The commands that change a setting, for parsing and `/help`.
pub const COMMANDS: &[&str] = &["/encoding", "/view", "/input", "/eol", "/escapes"];

impl Setting {
    /// Parses the value of a setting command (`/view hex` is `("/view", "hex")`).
    pub fn parse(command: &str, value: &str) -> Result<Setting, String> {
        fn pick<T: ValueEnum>(command: &str, value: &str) -> Result<T, String> {
            T::from_str(value, true).map_err(|_| {
                let names: Vec<String> = T::value_variants()
                    .iter()
                    .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_owned()))
                    .collect();
                format!("{command}: {value:?} is not one of {}", names.join(", "))
            })
        }
        match command {
            "/encoding" => pick(command, value).map(Setting::Encoding),
            "/view" => pick(command, value).map(Setting::View),
            "/input" => pick(command, value).map(Setting::Input),
            "/eol" => pick(command, value).map(Setting::Eol),
            "/escapes" => match value.to_ascii_lowercase().as_str() {
                "on" | "yes" | "true" | "1" => Ok(Setting::Escapes(true)),
                "off" | "no" | "false" | "0" => Ok(Setting::Escapes(false)),
                _ => Err(format!("/escapes: {value:?} is not on or off")),
            },
            other => Err(format!("{other} is not a setting")),
        }
    }
}

impl Settings {
    /// Applies one change.
    pub fn apply(&mut self, setting: Setting) {
        match setting {
            Setting::Encoding(e) => self.encoding = e,
            Setting::View(v) => self.view = v,
            Setting::Input(i) => self.input_mode = i,
            Setting::Eol(e) => self.eol = e,
            Setting::Escapes(on) => self.escapes = on,
        }
    }
}

fn name<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|p| p.get_name().to_owned())
        .unwrap_or_default()
}

impl fmt::Display for Settings {
    /// `encoding utf-8, view text, input text, eol lf, escapes off`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "encoding {}, view {}, input {}, eol {}, escapes {}",
            name(&self.encoding),
            name(&self.view),
            name(&self.input_mode),
            name(&self.eol),
            if self.escapes { "on" } else { "off" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Settings {
        Settings {
            encoding: Encoding::Utf8,
            view: View::Text,
            input_mode: InputMode::Text,
            eol: LineEnding::Lf,
            escapes: false,
        }
    }

    #[test]
    fn parses_and_applies_every_setting() {
        let mut s = defaults();
        for (command, value) in [
            ("/encoding", "GBK"),
            ("/view", "both"),
            ("/input", "hex"),
            ("/eol", "crlf"),
            ("/escapes", "on"),
        ] {
            s.apply(Setting::parse(command, value).expect(command));
        }
        assert_eq!(
            s.to_string(),
            "encoding gbk, view both, input hex, eol crlf, escapes on"
        );
        assert_eq!(
            Setting::parse("/encoding", "cp936"),
            Ok(Setting::Encoding(Encoding::Gbk))
        );
    }

    #[test]
    fn refuses_unknown_values_with_the_choices() {
        let err = Setting::parse("/view", "sideways").expect_err("bad view");
        assert!(err.contains("text, hex, both"), "{err}");
        assert!(Setting::parse("/escapes", "maybe").is_err());
        assert!(Setting::parse("/colour", "red").is_err());
    }
}
