//! `chatroom passwd`: turns a password into the argon2 hash that an
//! `[[opers]]` entry of the server's configuration holds, so that the
//! password itself is never written in a file.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};

/// Reads a password (twice, without echo, at a terminal; one line from
/// piped input) and returns its hash.
pub fn hash_from_input() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ").context("cannot read the password")?;
        let again = rpassword::prompt_password("again: ").context("cannot read the password")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    chatroom_server::accounts::hash_password(&password).context("cannot hash the password")
}
