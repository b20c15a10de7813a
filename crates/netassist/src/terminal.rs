//! Puts the terminal back the way we found it.
//!
//! The line editor switches the terminal to raw mode while it waits for a
//! key. When the session ends for another reason (the peer closed, a
//! deadline passed) that thread is still waiting, and the process exits
//! without it leaving raw mode; restoring the saved settings here keeps the
//! user's shell usable.

/// The terminal settings at start-up, restored on drop.
#[derive(Debug)]
pub struct TerminalGuard {
    #[cfg(unix)]
    saved: Option<nix::sys::termios::Termios>,
}

impl TerminalGuard {
    /// Saves the current settings of stdin's terminal (if it is one).
    pub fn save() -> Self {
        #[cfg(unix)]
        {
            TerminalGuard {
                saved: nix::sys::termios::tcgetattr(std::io::stdin()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            TerminalGuard {}
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(saved) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}
