//! Taking over the terminal, and always giving it back.
//!
//! The full-screen client switches the terminal to raw mode and the
//! alternate screen, and turns on mouse reporting and bracketed paste. All
//! of that is undone when [`TerminalSession`] is dropped (a normal exit, an
//! error, a signal handled by the runner) and by a panic hook (a panic
//! anywhere, before the panic message is printed, so it stays readable).

use std::io::{self, Stdout, Write};
use std::sync::Once;

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, SetTitle, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal, taken over; restored on drop.
pub struct TerminalSession {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalSession {
    /// Takes over the terminal on stdout.
    pub fn enter() -> io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        let mut stdout = io::stdout();
        // CSI 22;0 t saves the window title (xterm and most others), so
        // that the one the client sets is undone on the way out.
        if let Err(e) = execute!(
            stdout,
            crossterm::style::Print(SAVE_TITLE),
            EnterAlternateScreen,
            EnableMouseCapture,
            EnableBracketedPaste
        ) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(terminal) => Ok(TerminalSession { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    /// Turns mouse reporting on or off.
    pub fn set_mouse(&mut self, on: bool) -> io::Result<()> {
        if on {
            execute!(self.terminal.backend_mut(), EnableMouseCapture)
        } else {
            execute!(self.terminal.backend_mut(), DisableMouseCapture)
        }
    }

    /// Rings the bell.
    pub fn bell(&mut self) -> io::Result<()> {
        execute!(self.terminal.backend_mut(), crossterm::style::Print("\x07"))
    }

    /// Sets the window title (control characters are removed first).
    pub fn set_title(&mut self, title: &str) -> io::Result<()> {
        let title = crate::display::sanitize(title, false);
        execute!(self.terminal.backend_mut(), SetTitle(title))
    }

    /// The ratatui terminal to draw on.
    pub fn terminal(&mut self) -> &mut Terminal<CrosstermBackend<Stdout>> {
        &mut self.terminal
    }
}

impl Drop for TerminalSession {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the terminal back: leaves raw mode and the alternate screen, stops
/// mouse reporting and bracketed paste, shows the cursor. Safe to call more
/// than once, and when the terminal was never taken over.
pub fn restore() {
    let _ = disable_raw_mode();
    let mut stdout = io::stdout();
    let _ = write_restore_sequence(&mut stdout);
}

/// The escape sequences that undo [`TerminalSession::enter`]'s.
pub fn write_restore_sequence(out: &mut impl Write) -> io::Result<()> {
    execute!(
        out,
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show,
        crossterm::style::Print(RESTORE_TITLE)
    )
}

/// Saves the window title on the terminal's title stack.
const SAVE_TITLE: &str = "\x1b[22;0t";
/// Restores the title saved by [`SAVE_TITLE`].
const RESTORE_TITLE: &str = "\x1b[23;0t";

/// Installs (once per process) a panic hook that restores the terminal and
/// then runs the previous hook, which prints the panic message.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| chain_panic_hook(restore));
}

/// Makes `first` run before the current panic hook on every panic.
fn chain_panic_hook(first: impl Fn() + Send + Sync + 'static) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        first();
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_panic_runs_the_restore_hook_before_the_previous_one() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        chain_panic_hook(move || {
            seen.fetch_add(1, Ordering::SeqCst);
        });
        let outcome = std::panic::catch_unwind(|| panic!("test panic, expected"));
        assert!(outcome.is_err());
        assert!(calls.load(Ordering::SeqCst) >= 1);
    }

    #[test]
    fn the_restore_sequence_leaves_every_mode_entered() {
        let mut out = Vec::new();
        write_restore_sequence(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for sequence in [
            "\x1b[?2004l",
            "\x1b[?1049l",
            "\x1b[?25h",
            "\x1b[?1000l",
            RESTORE_TITLE,
        ] {
            assert!(
                text.contains(sequence),
                "{sequence:?} missing from {text:?}"
            );
        }
    }
}
