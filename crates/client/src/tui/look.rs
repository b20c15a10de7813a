//! How the full-screen client looks and speaks up: the timestamp format,
//! the colours, the words that count as mentions, and whether a mention
//! rings the terminal bell and shows in the window title. The defaults are
//! the client's usual look; the configuration file changes them
//! (`crate::config`).

use chrono::format::{Item, StrftimeItems};
use ratatui::style::Color;

/// The colours of what the client draws (nicknames have their own palette).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Colours {
    /// Timestamps and day separators.
    pub time: Color,
    /// The `-!-` of notices.
    pub notice: Color,
    /// Errors.
    pub error: Color,
    /// A mentioning line's nickname: text colour.
    pub mention_fg: Color,
    /// A mentioning line's nickname: background.
    pub mention_bg: Color,
    /// Links.
    pub link: Color,
    /// The unread marker.
    pub marker: Color,
}

impl Default for Colours {
    fn default() -> Self {
        Colours {
            time: Color::DarkGray,
            notice: Color::Cyan,
            error: Color::Red,
            mention_fg: Color::Black,
            mention_bg: Color::Yellow,
            link: Color::LightBlue,
            marker: Color::LightRed,
        }
    }
}

/// Everything about the look the user may choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    /// How times are shown (a chrono `strftime` format): `%H:%M`, or
    /// `%H:%M:%S` with seconds.
    pub timestamp: String,
    /// Words that mention the user besides their nickname (whole words,
    /// any case).
    pub highlight: Vec<String>,
    /// Ring the terminal bell on a mention or a direct message.
    pub bell: bool,
    /// Show unseen mentions in the terminal's title.
    pub title: bool,
    /// The colours.
    pub colours: Colours,
}

/// The default timestamp format.
pub const DEFAULT_TIMESTAMP: &str = "%H:%M";

impl Default for Look {
    fn default() -> Self {
        Look {
            timestamp: DEFAULT_TIMESTAMP.to_owned(),
            highlight: Vec::new(),
            bell: true,
            title: true,
            colours: Colours::default(),
        }
    }
}

/// Checks a timestamp format: chrono must understand every part of it (a
/// bad one would otherwise fail when drawing).
pub fn check_timestamp(format: &str) -> Result<(), String> {
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "{format:?} is not a strftime format (try \"%H:%M:%S\")"
        ));
    }
    Ok(())
}

/// A colour by name (`red`, `lightblue`, `darkgray`...), number (`0`-`255`)
/// or `#rrggbb`.
pub fn parse_colour(text: &str) -> Result<Color, String> {
    text.parse::<Color>().map_err(|_| {
        format!("{text:?} is not a colour (a name like \"lightblue\", 0-255 or #rrggbb)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_colours_are_checked() {
        assert!(check_timestamp("%H:%M:%S").is_ok());
        assert!(check_timestamp("%Q").is_err());
        assert_eq!(parse_colour("lightblue"), Ok(Color::LightBlue));
        assert_eq!(parse_colour("#ff0000"), Ok(Color::Rgb(255, 0, 0)));
        assert!(parse_colour("mauve-ish").is_err());
    }
}
