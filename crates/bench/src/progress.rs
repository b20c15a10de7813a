//! Progress bars on stderr (only when asked for, i.e. on a terminal), so a
//! long ramp or run shows it is alive without touching stdout's report.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting to `len`, drawn on stderr when `enabled`, hidden otherwise.
/// `template` is an indicatif template; `{msg}` carries live figures.
pub fn bar(enabled: bool, len: u64, template: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    match ProgressStyle::with_template(template) {
        Ok(style) => bar.with_style(style.progress_chars("=> ")),
        Err(_) => bar,
    }
}

/// The bar shown while clients connect.
pub fn connecting(enabled: bool, clients: u32) -> ProgressBar {
    bar(
        enabled,
        clients.into(),
        "connecting [{bar:40}] {pos}/{len} {msg} ({elapsed})",
    )
}

/// The bar shown while a run or hold lasts, counting tenths of a second.
pub fn running(enabled: bool, what: &str, tenths: u64) -> ProgressBar {
    bar(enabled, tenths, &format!("{what} [{{bar:40}}] {{msg}}"))
}
