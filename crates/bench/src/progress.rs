//! Progress bars on stderr (only when asked for, i.e. on a terminal), so a
//! long ramp, run, hold or search shows it is alive, and where it is,
//! without touching stdout's report.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::Config;

/// A bar counting to `len`, drawn on stderr when `config.progress`, hidden
/// otherwise, with `config.progress_label` in front. `template` is an
/// indicatif template; `{msg}` carries live figures.
fn bar(config: &Config, len: u64, template: &str) -> ProgressBar {
    if !config.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let bar = match ProgressStyle::with_template(&format!("{{prefix}}{template}")) {
        Ok(style) => bar.with_style(style.progress_chars("=> ")),
        Err(_) => bar,
    };
    bar.set_prefix(config.progress_label.clone());
    bar
}

/// The bar shown while clients connect.
pub fn connecting(config: &Config) -> ProgressBar {
    bar(
        config,
        config.clients.into(),
        "connecting [{bar:30}] {pos}/{len} {msg} ({elapsed})",
    )
}

/// The bar shown while a run or hold lasts `length`, counting tenths of a
/// second; [`seconds`] reads them back for its message.
pub fn running(config: &Config, what: &str, length: Duration) -> ProgressBar {
    bar(
        config,
        tenths(length),
        &format!("{what} [{{bar:30}}] {{msg}}"),
    )
}

/// Tenths of a second in `d`, the unit of [`running`] bars.
pub fn tenths(d: Duration) -> u64 {
    u64::try_from(d.as_millis() / 100).unwrap_or(u64::MAX)
}

/// "12/30 s": how far a [`running`] bar has come, for its message.
pub fn seconds(bar: &ProgressBar) -> String {
    let whole = |tenths: u64| tenths / 10;
    format!(
        "{}/{} s",
        whole(bar.position()),
        whole(bar.length().unwrap_or_default())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_bars_count_tenths_and_read_as_seconds() {
        let mut config = Config::new("127.0.0.1:1");
        config.progress = true;
        config.progress_label = "step 2 of up to 12: ".to_owned();
        let bar = running(&config, "holding", Duration::from_secs(30));
        assert_eq!(bar.length(), Some(300));
        assert_eq!(bar.prefix(), "step 2 of up to 12: ");
        bar.set_position(tenths(Duration::from_millis(12_340)));
        assert_eq!(seconds(&bar), "12/30 s");
        bar.finish_and_clear();
    }

    #[test]
    fn no_bar_unless_asked_for() {
        let config = Config::new("127.0.0.1:1");
        assert!(running(&config, "sending", Duration::from_secs(5)).is_hidden());
        assert!(connecting(&config).is_hidden());
    }
}
