//! `chatroom`: the server (`serve`) and the client (`join`) in one binary.
//!
//! This file only parses flags, sets up logging and signals, and calls the
//! libraries; everything else lives in `chatroom-server` and
//! `chatroom-client`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chatroom_client::{line, tui};
use chatroom_server::store::{Location, Retention, RetentionPolicy, RoomRetention};
use chatroom_server::{Config, DEFAULT_HISTORY_REPLAY, Listener};
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// A chat room you can run yourself.
#[derive(Parser)]
#[command(
    name = "chatroom",
    version,
    about = "A chat room you can run yourself: server and client",
    long_about = "A chat room you can run yourself.\n\n\
        Start a server with `chatroom serve`, then join it from other terminals with \
        `chatroom join --nick NAME`. The server speaks the JSON protocol of the classic \
        Python socket tutorial (its client works unchanged) and relays every message to \
        everyone online.",
    after_help = "Examples:\n  \
        chatroom serve                          # listen on 127.0.0.1:8000\n  \
        chatroom serve --listen 0.0.0.0:8000    # accept clients from the network\n  \
        chatroom join --nick alice              # join and chat\n  \
        printf 'login bob\\nsend hi\\n' | chatroom join   # scripted: deliver one message"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the chat server until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Join a chat server: full-screen in a terminal, line mode otherwise.
    #[command(
        long_about = "Join a chat server.\n\n\
            When stdin and stdout are both terminals (and --plain is not given), this opens \
            the full-screen client: a window per room and per direct-message peer, a member \
            list, scrollback that loads older history, and a connection that comes back by \
            itself. Type /help in it for the commands and keys.\n\n\
            Otherwise (piped input or output, or --plain) it runs in line mode: type \
            `login NAME`, then chat; every line read is sent, and incoming lines are printed \
            as `HH:MM #room [nick(id)] text`.",
        after_help = "Examples:\n  \
            chatroom join --nick alice                     # full-screen, logged in as alice\n  \
            chatroom join --server chat.example:8000       # full-screen, asks for a nickname\n  \
            chatroom join --plain --nick bob               # line mode in a terminal\n  \
            printf 'login bob\\nsend hi\\n' | chatroom join   # scripted: deliver one message\n  \
            chatroom join --nick alice --log-file chat.log # keep diagnostics in a file"
    )]
    Join(JoinArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on for JSON clients.
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Also listen for IRC clients here (e.g. 127.0.0.1:6667); off unless given.
    #[arg(long, value_name = "ADDR:PORT")]
    irc_listen: Option<SocketAddr>,
    /// The server's name on IRC (shown as the source of server messages).
    #[arg(long, default_value = "chatroom", value_name = "NAME")]
    server_name: String,
    /// A file whose lines are the IRC message of the day.
    #[arg(long, value_name = "FILE")]
    motd: Option<PathBuf>,
    /// Largest client frame (one JSON object) in bytes; a bigger one closes the connection.
    #[arg(long, default_value_t = Config::default().max_frame_bytes, value_name = "BYTES")]
    max_frame_bytes: usize,
    /// Most unwritten bytes queued per client; a client further behind is
    /// disconnected as a slow consumer.
    #[arg(long, default_value_t = Config::default().outbox_bytes, value_name = "BYTES")]
    outbox_bytes: usize,
    /// How long shutdown waits for clients to receive their goodbye.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    shutdown_grace: Duration,
    /// Directory for the history database (chatroom.db, SQLite in WAL mode).
    #[arg(
        long,
        default_value = "data",
        value_name = "DIR",
        conflicts_with = "in_memory"
    )]
    data_dir: PathBuf,
    /// Keep history in memory only: it is gone when the server stops.
    #[arg(long)]
    in_memory: bool,
    /// How many stored messages joining a room replays.
    #[arg(long, default_value_t = DEFAULT_HISTORY_REPLAY, value_name = "N")]
    history_replay: u32,
    /// How long history is kept in every room (and for direct messages, by
    /// age): `count=N`, `age=DURATION` or both, e.g. `count=100000,age=90d`.
    /// Unlimited when not given.
    #[arg(long, value_name = "POLICY")]
    retention: Option<RetentionPolicy>,
    /// A room's own retention, overriding --retention; repeatable.
    /// E.g. `--room-retention lobby:count=1000 --room-retention ops:age=7d`.
    #[arg(long, value_name = "ROOM:POLICY")]
    room_retention: Vec<RoomRetention>,
}

#[derive(Args)]
struct JoinArgs {
    /// The server to join.
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "HOST:PORT")]
    server: String,
    /// Log in with this nickname right away (otherwise the full-screen client
    /// asks for one, and line mode waits for `login NAME`).
    #[arg(long, value_name = "NAME")]
    nick: Option<String>,
    /// Use line mode even in a terminal (plain lines in, plain lines out).
    #[arg(long)]
    plain: bool,
    /// Write diagnostics to FILE instead of stderr (the full-screen client
    /// writes none otherwise: the terminal is its screen).
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
}

impl JoinArgs {
    /// Full-screen when a person is at a terminal on both ends.
    fn full_screen(&self) -> bool {
        !self.plain && std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("chatroom: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match cli.command {
        Command::Serve(args) => {
            init_logging("info");
            match runtime.block_on(serve(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("chatroom: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Join(args) => {
            let full_screen = args.full_screen();
            match &args.log_file {
                Some(path) => {
                    if let Err(e) = init_file_logging(path) {
                        eprintln!(
                            "chatroom: cannot write the log file {}: {e}",
                            path.display()
                        );
                        return ExitCode::FAILURE;
                    }
                }
                None if full_screen => {}
                None => init_logging("warn"),
            }
            ExitCode::from(runtime.block_on(join(args, full_screen)))
        }
    };
    // A blocking read of stdin may still be parked on a runtime thread; do
    // not wait for it (dropping the runtime would, until stdin closes).
    runtime.shutdown_background();
    code
}

/// Logs to stderr (coloured only on a terminal); `RUST_LOG` overrides the
/// default level.
fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut listeners = vec![Listener::json(bind(args.listen).await?)];
    if let Some(addr) = args.irc_listen {
        listeners.push(Listener::irc(bind(addr).await?));
    }
    let motd = match &args.motd {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the MOTD file {}", path.display()))?
            .lines()
            .map(str::to_owned)
            .collect(),
        None => chatroom_server::default_motd(),
    };
    let config = Config {
        max_frame_bytes: args.max_frame_bytes,
        outbox_bytes: args.outbox_bytes,
        shutdown_grace: args.shutdown_grace,
        store: if args.in_memory {
            Location::Memory
        } else {
            Location::Dir(args.data_dir)
        },
        retention: Retention {
            default: args.retention.unwrap_or_default(),
            rooms: args
                .room_retention
                .into_iter()
                .map(|r| (r.room_key, r.policy))
                .collect(),
        },
        history_replay: args.history_replay,
        server_name: args.server_name,
        motd,
    };
    let shutdown = shutdown_signal()?;
    chatroom_server::run(listeners, config, shutdown).await?;
    Ok(())
}

async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
        }
    })
}

/// Logs to `path` (appending); `RUST_LOG` sets the level, `info` by default.
fn init_file_logging(path: &std::path::Path) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .init();
    Ok(())
}

async fn join(args: JoinArgs, full_screen: bool) -> u8 {
    if full_screen {
        let options = tui::Options {
            server: args.server,
            nick: args.nick,
        };
        return match tui::run(options).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("chatroom: {e}");
                1
            }
        };
    }
    let options = line::Options {
        server: args.server,
        nick: args.nick,
        interactive: std::io::stdin().is_terminal(),
    };
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    let ending = line::run(
        &options,
        input,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
    .await;
    ending.exit_code()
}
