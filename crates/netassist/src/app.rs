//! From parsed flags to a finished run: sets up input (prompt or pipe), the
//! console and transcript, connects or binds, runs the mode, and turns the
//! result into an exit code. This is what `main` calls.

use std::io::IsTerminal;
use std::sync::Arc;

use crate::cli::{Cli, Mode};
use crate::console::{Console, DisplayOptions};
use crate::error::{Error, Outcome};
use crate::input::{Prompt, piped_stdin, raw_stdin};
use crate::session::{Input, Session};
use crate::terminal::TerminalGuard;
use crate::transcript::Transcript;
use crate::{tcp_client, tcp_server, udp};

/// Runs the command line to completion and returns the process exit code.
pub async fn run(cli: Cli) -> u8 {
    let common = cli.mode.common();
    // Usage errors are reported before connecting or binding anything.
    let options = match cli.mode.options().and_then(|o| o.validate().map(|()| o)) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let log = match &common.log {
        Some(path) => match Transcript::open(path) {
            Ok(t) => Some(t),
            Err(e) => return fail(&Error::File(path.display().to_string(), e)),
        },
        None => None,
    };

    let raw = common.raw;
    let interactive = common.reads_stdin()
        && !raw
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    // One raw chunk is sent as one datagram in udp mode.
    let raw_chunk = match &cli.mode {
        Mode::Udp(_) => udp::MAX_IPV4_PAYLOAD,
        _ => 64 * 1024,
    };
    let terminal = interactive.then(TerminalGuard::save);
    let prompt = if interactive {
        match Prompt::new() {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("netassist: no line editing ({e}); reading plain lines");
                None
            }
        }
    } else {
        None
    };
    let (out, err) = match prompt.as_ref().and_then(|p| p.sink().zip(p.sink())) {
        Some(sinks) => sinks,
        None => (
            Box::new(std::io::stdout()) as Box<dyn std::io::Write + Send>,
            Box::new(std::io::stderr()) as Box<dyn std::io::Write + Send>,
        ),
    };
    let line_editing = prompt.is_some();
    let display = DisplayOptions {
        view: options.view,
        timestamps: options.timestamps,
        quiet: options.quiet,
        raw: options.raw,
    };
    let session = Session::new(options, Console::new(display, out, err, log));
    let start_input = move |session: &Arc<Session>| -> Input {
        if !common.reads_stdin() {
            Input::none()
        } else if raw {
            raw_stdin(session.clone(), raw_chunk)
        } else if let Some(prompt) = prompt {
            prompt.start("> ", session.clone())
        } else {
            piped_stdin(session.clone())
        }
    };

    let result = match &cli.mode {
        Mode::TcpClient(args) => {
            match tcp_client::connect(&args.target, args.connect_timeout).await {
                Ok(stream) => {
                    let input = start_input(&session);
                    tcp_client::run(session.clone(), stream, input, stop_signal()).await
                }
                Err(e) => Err(e),
            }
        }
        Mode::TcpServer(args) => match tcp_server::bind(&args.listen).await {
            Ok(listener) => {
                let input = start_input(&session);
                tcp_server::run(session.clone(), listener, input, stop_signal()).await
            }
            Err(e) => Err(e),
        },
        Mode::Udp(args) => {
            let setup = async {
                let to = match &args.to {
                    Some(t) => Some(t.resolve_first().await?),
                    None => None,
                };
                let socket = udp::bind(args.bind.as_ref(), to).await?;
                Ok::<_, Error>((socket, to))
            };
            match setup.await {
                Ok((socket, to)) => {
                    let input = start_input(&session);
                    udp::run(session.clone(), socket, to, input, stop_signal()).await
                }
                Err(e) => Err(e),
            }
        }
    };
    if line_editing {
        // The prompt thread is still waiting for a key: leave its line and
        // print the last words directly, so it has nothing to redraw.
        session
            .console
            .set_sinks(Box::new(std::io::stdout()), Box::new(std::io::stderr()));
        eprintln!();
    }
    session.report_totals();
    let code = match result {
        Ok(outcome) => {
            match outcome {
                Outcome::PeerClosed => session.console.warn(
                    "the peer closed the connection while input was still being sent (exit code 5)",
                ),
                Outcome::Refused => session.console.warn(
                    "the peer reset the connection before anything was exchanged: refused, e.g. \
                     a server that is full (exit code 3)",
                ),
                Outcome::Done | Outcome::Stopped => {}
            }
            let failed = session.failed_sends();
            if failed > 0 {
                session.console.warn(&format!(
                    "{failed} {} could not be sent (exit code 1)",
                    if failed == 1 { "message" } else { "messages" }
                ));
            }
            session.exit_code(outcome)
        }
        Err(e) => {
            session.console.warn(&format!("error: {e}"));
            e.exit_code()
        }
    };
    drop(terminal);
    code
}

fn fail(e: &Error) -> u8 {
    eprintln!("netassist: {e}");
    e.exit_code()
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
