//! `chatroom`: the server (`serve`), the client (`join`), the load generator
//! (`bench`), an online backup (`backup`), a certificate maker (`cert`) and
//! an operator password hasher (`passwd`) in one binary.
//!
//! This file only parses flags, sets up logging and signals, and calls the
//! libraries; everything else lives in `chatroom-server` and
//! `chatroom-client`.

mod cert;
mod passwd;
mod settings;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chatroom_bench::{FindMax, Proto, plot};
use chatroom_client::config::ClientConfig;
use chatroom_client::connection::Target;
use chatroom_client::tls::{ClientCert, TlsClient, Trust};
use chatroom_client::{line, tui};
use chatroom_server::Listener;
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::settings::{ListenerProtocol, ServeArgs, Settings};

/// A chat room you can run yourself.
#[derive(Parser)]
#[command(
    name = "chatroom",
    version,
    about = "A chat room you can run yourself: server and client",
    long_about = "A chat room you can run yourself.\n\n\
        Start a server with `chatroom serve`, then join it from other terminals with \
        `chatroom join --nick NAME`. The server speaks the JSON protocol of the classic \
        Python socket tutorial (its client works unchanged) and, with --irc-listen, IRC; \
        it also serves a web client (the URL to open is printed at start, \
        http://127.0.0.1:8080/ by default). All kinds of clients share rooms, direct \
        messages and history.",
    after_help = "Examples:\n  \
        chatroom serve                                   # JSON on 127.0.0.1:8000, web on :8080\n  \
        chatroom serve --http-listen 0.0.0.0:8080        # the web client for the whole LAN\n  \
        chatroom serve --irc-listen 127.0.0.1:6667       # and IRC clients\n  \
        chatroom serve --config /etc/chatroom.toml       # settings from a file (see --print-config)\n  \
        chatroom join --nick alice                       # join and chat\n  \
        printf 'login bob\\nsend hi\\n' | chatroom join    # scripted: deliver one message\n  \
        chatroom bench --clients 200 --senders 20 --rate 50  # load-test the server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the chat server until Ctrl-C or SIGTERM.
    Serve(Box<ServeArgs>),
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
            chatroom join --nick alice --log-file chat.log # keep diagnostics in a file\n  \
            chatroom join                                  # server, nickname... from ~/.config/chatroom/client.toml"
    )]
    Join(JoinArgs),
    /// Load-test a chat server (ours, or any IRC server) and report
    /// throughput, loss, latency and CPU.
    #[command(
        long_about = "Load-test a chat server and report what it delivered.\n\n\
            Connects --clients clients (--ramp per second) into one room, over TCP (--proto json \
            or irc) or WebSocket (--proto ws or irc-ws, to the server's HTTP listener). --senders \
            of them then \
            send --rate messages per second each, open loop (by the clock, never waiting for \
            replies), for --duration; every message is --size bytes and carries its send time. \
            After a wait for late deliveries the report gives: connected, offered, actually sent, \
            expected and delivered deliveries, loss, deliveries per second, latency p50/p90/p99/\
            p99.9/max, the bench's own CPU time, and with --server-pid the server's CPU time and \
            memory. --server may be given several times (the nodes of a cluster): client i \
            connects to the (i mod N)th, every client joins the same room, and the report adds \
            each server's share; --server-pid too, for each node and for other processes such as \
            redis-server, each reported by pid and name. --find-max searches for the highest clean rate; --idle holds idle clients to \
            measure memory per connection. --plot draws the run (or the search) as an SVG \
            chart, and `chatroom bench plot` draws recorded --json reports side by side. \
            docs/bench.md is the manual.",
        after_help = "Examples:\n  \
            chatroom bench --clients 1000 --senders 20 --rate 100 --duration 10s\n  \
            chatroom bench --server-pid $(pgrep -f 'chatroom serve') --json > run.json\n  \
            chatroom bench --proto irc --server 127.0.0.1:6667 --clients 1000 --senders 1000 --rate 1\n  \
            chatroom bench --proto ws --server 127.0.0.1:8080 --clients 1000 --senders 20 --rate 100\n  \
            chatroom bench --server 127.0.0.1:8000 --server 127.0.0.1:8001 --clients 1000 \\\n      \
            --senders 20 --rate 100 --server-pid $A --server-pid $B --server-pid $REDIS\n  \
            chatroom bench --find-max --clients 1000 --senders 20 --rate 50 --duration 5s\n  \
            chatroom bench --idle --clients 10000 --ramp 200 --duration 30s --server-pid 4242\n  \
            chatroom bench --clients 200 --senders 20 --rate 50 --plot run.svg\n  \
            chatroom bench plot ours=ours.json theirs=theirs.json -o compare.svg"
    )]
    Bench(BenchArgs),
    /// Copy the server's database to FILE, consistently, while it runs.
    #[command(
        long_about = "Copy the server's database (history, topics, accounts, bans, id counters) \
            to FILE, consistently, without stopping the server.\n\n\
            The copy is made in one read transaction (SQLite's VACUUM INTO), so it is the \
            database as it was at one instant while the server goes on writing; it is then \
            checked (PRAGMA quick_check). FILE must not exist. The message index (DIR/index.db) \
            is not copied: it is built again at the first start after a restore (about a minute \
            per ten million messages). To restore, stop the server, put FILE in place of \
            DIR/chatroom.db, delete DIR/chatroom.db-wal, DIR/chatroom.db-shm and DIR/index.db \
            (with DIR/index.db-wal and DIR/index.db-shm) if present, and start it \
            (docs/operations.md).",
        after_help = "Examples:\n  \
            chatroom backup backup.db                                  # the database in ./data\n  \
            chatroom backup --data-dir /var/lib/chatroom /var/backups/chatroom-$(date +%F).db"
    )]
    Backup(BackupArgs),
    /// Write a self-signed TLS certificate and key (cert.pem, key.pem).
    Cert(cert::CertArgs),
    /// Hash a password for an `[[opers]]` entry of the server's configuration.
    #[command(
        long_about = "Hash a password for an operator entry of the server's configuration.\n\n\
            Asks for the password twice without showing it (or reads one line from piped \
            input) and prints its argon2id hash. Put the hash in the configuration file:\n\n  \
            [[opers]]\n  name = \"admin\"\n  password_hash = \"$argon2id$v=19$...\"\n\n\
            Then `OPER admin PASSWORD` (IRC) or {\"type\":\"oper\",...} (JSON) makes a \
            user a server operator."
    )]
    Passwd,
}

#[derive(Args)]
struct BackupArgs {
    /// The server's data directory (its --data-dir).
    #[arg(long, value_name = "DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Where to write the copy; must not exist yet.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(Args)]
struct JoinArgs {
    /// The server to join (default: the configuration file's `server`, else
    /// 127.0.0.1:8000).
    #[arg(long, value_name = "HOST:PORT", value_parser = chatroom_client::connection::parse_address)]
    server: Option<String>,
    /// Read the client's settings from FILE instead of
    /// $XDG_CONFIG_HOME/chatroom/client.toml (~/.config/chatroom/client.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log in with this nickname right away (otherwise the full-screen client
    /// asks for one, and line mode waits for `login NAME`).
    #[arg(long, value_name = "NAME")]
    nick: Option<String>,
    /// The password of --nick's account, if it is registered (read from this
    /// environment variable, so it stays out of shell history and `ps`).
    #[arg(long, value_name = "VAR", requires = "nick")]
    password_env: Option<String>,
    /// Use line mode even in a terminal (plain lines in, plain lines out).
    #[arg(long)]
    plain: bool,
    /// Connect with TLS (to a `--tls-listen` port). The server's certificate
    /// must come from a public authority, unless --ca or --insecure says
    /// otherwise.
    #[arg(long)]
    tls: bool,
    /// Trust the certificates in this PEM file (e.g. the cert.pem of
    /// `chatroom cert`) instead of the public authorities.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls",
        conflicts_with = "insecure"
    )]
    ca: Option<PathBuf>,
    /// Accept any certificate: encrypted but unauthenticated. For tests only.
    #[arg(long, requires = "tls")]
    insecure: bool,
    /// With TLS, present this client certificate (PEM): an account that
    /// lists it (`/cert add`) logs in by it, without a password. The file
    /// may hold the private key too.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The private key of --cert (PEM), if not in --cert's file.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
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

#[derive(Clone, Copy, ValueEnum)]
enum ProtoArg {
    /// The chatroom JSON protocol (docs/protocol.md).
    Json,
    /// IRC: works against any IRC server (ngIRCd, InspIRCd, ...).
    Irc,
    /// The JSON protocol over WebSocket: --server is the HTTP listener
    /// (`chatroom serve --http-listen`), clients connect to ws://HOST:PORT/ws.
    Ws,
    /// IRC over WebSocket (subprotocol text.ircv3.net) to ws://HOST:PORT/ws
    /// of the HTTP listener.
    IrcWs,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct BenchArgs {
    /// Charts of recorded reports instead of a run.
    #[command(subcommand)]
    action: Option<BenchAction>,
    #[command(flatten)]
    run: BenchRunArgs,
}

#[derive(Subcommand)]
enum BenchAction {
    /// Draw recorded --json reports on one chart: p99 latency against
    /// offered deliveries per second, one line per label.
    #[command(
        long_about = "Draw recorded `chatroom bench --json` reports on one SVG chart: p99 latency \
            against offered deliveries per second, both axes logarithmic, one line per label.\n\n\
            Each input is REPORT.json or LABEL=REPORT.json (runs and --find-max searches, in any \
            mix). A plain file is labelled by its name without .json; inputs with the same label \
            make one line (a run adds one point, a search one point per step; repeated runs at one \
            load are all marked, and the line goes through their median).",
        after_help = "Examples:\n  \
            chatroom bench plot json.json irc.json -o compare.svg\n  \
            chatroom bench plot ngircd=out/matrix-200x200x1-ngircd-1.json \\\n      \
            ngircd=out/matrix-1000x20x100-ngircd-1.json ours=out/findmax-chatroom-json.json -o p99.svg"
    )]
    Plot(PlotArgs),
    /// History at scale: fill a data directory with a generated history,
    /// then measure the real server on it (ingest, joins, paging, search,
    /// start, size, memory).
    #[command(
        long_about = "History at scale, on the real store through the real server.\n\n\
            Fills --data-dir with --messages generated messages (English and Chinese text of \
            chat-like lengths in --rooms rooms and --dm-pairs direct-message pairs between --users \
            people with accounts, timestamps over three years), through the store itself; a \
            directory filled before is grown with the same settings. Then starts this binary's \
            server on it (127.0.0.1, limits for load tests lifted) and measures: start time, \
            memory, joins (their replay), history pages far back, searches (a mix of English and \
            Chinese queries), IRC joins, durable ingest (--senders across rooms, open loop at \
            --ingest-rate, time to each ack) with synchronous=full and normal, and ingest while \
            retention deletes the oldest --retention-share of the history. docs/bench.md is the \
            manual.",
        after_help = "Examples:\n  \
            chatroom bench history --data-dir /tmp/h100k --messages 100000\n  \
            chatroom bench history --data-dir /tmp/h10m --messages 10000000 --json > h10m.json\n  \
            chatroom bench history --data-dir /tmp/h1m --messages 1000000 --no-ingest"
    )]
    History(HistoryArgs),
}

#[derive(Args)]
struct HistoryArgs {
    /// The data directory to fill (or grow) and measure.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Generated messages it should hold.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    messages: u64,
    /// Rooms (their sizes follow Zipf's law).
    #[arg(long, default_value_t = 1_000, value_name = "R")]
    rooms: u32,
    /// People, each with an account.
    #[arg(long, default_value_t = 5_000, value_name = "U")]
    users: u32,
    /// Pairs of people who exchange direct messages (a fifth of all messages).
    #[arg(long, default_value_t = 10_000, value_name = "D")]
    dm_pairs: u32,
    /// Seeds the generated text and every random choice.
    #[arg(long, default_value_t = 21)]
    seed: u64,
    /// Joins to time (IRC joins: a quarter as many).
    #[arg(long, default_value_t = 2_000)]
    joins: u32,
    /// History pages to time.
    #[arg(long, default_value_t = 2_000)]
    pages: u32,
    /// Searches to time.
    #[arg(long, default_value_t = 1_000)]
    searches: u32,
    /// Timed starts of the server.
    #[arg(long, default_value_t = 3)]
    starts: u32,
    /// Messages per second the ingest offers, all senders together.
    #[arg(long, default_value_t = 100_000.0, value_name = "MSG/S")]
    ingest_rate: f64,
    /// Sending connections in the ingest.
    #[arg(long, default_value_t = 200)]
    senders: u32,
    /// Rooms each sender sends to in turn.
    #[arg(long, default_value_t = 2)]
    rooms_per_sender: u32,
    /// How long each ingest run sends.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    ingest_duration: Duration,
    /// Skip the ingest runs and the retention pass.
    #[arg(long)]
    no_ingest: bool,
    /// The share of the generated history the retention pass deletes (0 skips it).
    #[arg(long, default_value_t = 0.05)]
    retention_share: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct PlotArgs {
    /// Reports written by `chatroom bench --json`, each as REPORT.json or
    /// LABEL=REPORT.json.
    #[arg(required = true, value_name = "[LABEL=]REPORT.json")]
    reports: Vec<String>,
    /// The SVG file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE.svg")]
    output: PathBuf,
}

#[derive(Args)]
struct BenchRunArgs {
    /// The server to load (with --proto ws or irc-ws: its HTTP listener,
    /// e.g. 127.0.0.1:8080). Repeat it to load several servers sharing
    /// the room (the nodes of a cluster): client i connects to the
    /// (i mod N)th, so clients and senders are split evenly.
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "HOST:PORT")]
    server: Vec<String>,
    /// The protocol the clients speak, and whether over TCP or WebSocket.
    #[arg(long, value_enum, default_value = "json")]
    proto: ProtoArg,
    /// Clients to connect; all of them join the room.
    #[arg(long, default_value_t = 100, value_name = "N")]
    clients: u32,
    /// How many of the clients send (the rest only receive).
    #[arg(long, default_value_t = 10, value_name = "S")]
    senders: u32,
    /// Messages per second each sender offers (fractions allowed, e.g. 0.5).
    #[arg(long, default_value_t = 10.0, value_name = "MSG/S")]
    rate: f64,
    /// How long the senders send (with --idle: how long clients are held).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    duration: Duration,
    /// Bytes of text per message (at least the stamp, about 20 bytes; at most one line).
    #[arg(long, default_value_t = 64, value_name = "BYTES")]
    size: usize,
    /// The room everyone joins (JSON: `lobby` needs no join; IRC: the channel #NAME).
    #[arg(long, default_value = "lobby", value_name = "NAME")]
    room: String,
    /// New connections per second while connecting.
    #[arg(long, default_value_t = 500.0, value_name = "CONN/S")]
    ramp: f64,
    /// How long one client may take to connect, log in and join before it counts as failed.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    connect_timeout: Duration,
    /// After sending, stop waiting for late deliveries once none arrived for this long.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    quiet: Duration,
    /// The longest wait for late deliveries after sending.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    drain: Duration,
    /// Process id of the server, when it runs on this machine: adds its CPU
    /// time during the run and its memory before and after the clients joined.
    /// Repeat it to measure several processes, each reported with its pid
    /// and name (the nodes, and e.g. redis-server).
    #[arg(long, value_name = "PID")]
    server_pid: Vec<u32>,
    /// Print the report as JSON (fields documented in docs/bench.md).
    #[arg(long)]
    json: bool,
    /// Repeat short runs, doubling then bisecting --rate, until loss appears
    /// or p99 passes --max-p99; report the highest clean rate and every step.
    #[arg(long, conflicts_with = "idle")]
    find_max: bool,
    /// With --find-max: the p99 latency a clean step stays within.
    #[arg(long, default_value = "50ms", value_parser = humantime::parse_duration, value_name = "DURATION", requires = "find_max")]
    max_p99: Duration,
    /// With --find-max: the most runs to do.
    #[arg(long, default_value_t = 12, value_name = "N", requires = "find_max")]
    max_steps: u32,
    /// Connect and log in --clients clients, hold them for --duration, and
    /// report (with --server-pid) the server's memory per idle connection.
    #[arg(long)]
    idle: bool,
    /// Also draw the run as an SVG chart: latency p50/p99/p99.9 and
    /// deliveries per second, second by second (with --find-max: p99 and
    /// deliveries per second, step by step, against the clean threshold).
    #[arg(long, value_name = "FILE.svg", conflicts_with = "idle")]
    plot: Option<PathBuf>,
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
            report(runtime.block_on(serve(*args)))
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
        Command::Bench(args) => {
            init_logging("warn");
            let done = match args.action {
                Some(BenchAction::Plot(plot)) => plot_reports(&plot),
                Some(BenchAction::History(history)) => runtime.block_on(bench_history(history)),
                None => runtime.block_on(bench(args.run)),
            };
            match done {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    // Every error here names its cause in its own message.
                    eprintln!("chatroom bench: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Backup(args) => {
            init_logging("warn");
            report(
                chatroom_server::store::backup(&args.data_dir, &args.file)
                    .map(|messages| {
                        println!(
                            "wrote {} ({messages} messages), checked",
                            args.file.display()
                        );
                    })
                    .with_context(|| format!("cannot back up {}", args.data_dir.display())),
            )
        }
        Command::Cert(args) => report(cert::write_pair(&args).map(|(cert, key)| {
            println!("wrote {} and {}", cert.display(), key.display());
        })),
        Command::Passwd => report(passwd::hash_from_input().map(|hash| println!("{hash}"))),
    };
    // A blocking read of stdin may still be parked on a runtime thread; do
    // not wait for it (dropping the runtime would, until stdin closes).
    runtime.shutdown_background();
    code
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chatroom: {e:#}");
            ExitCode::FAILURE
        }
    }
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
    let settings = Settings::load(&args)?;
    if args.print_config {
        print!("{}", settings.to_toml()?);
        return Ok(());
    }
    let config = settings.config()?;
    // The chat listeners ask for a client certificate (SASL EXTERNAL, and
    // a JSON login without a password);
    // HTTPS does not, so that browsers never show a certificate picker.
    let tls = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) if settings.listeners.iter().any(|l| l.tls) => {
            use chatroom_server::tls::{ClientCerts, acceptor};
            Some((
                acceptor(cert, key, ClientCerts::Requested)?,
                acceptor(cert, key, ClientCerts::Ignored)?,
            ))
        }
        _ => None,
    };
    let mut listeners = Vec::new();
    for spec in &settings.listeners {
        let socket = bind(spec.address).await?;
        let listener = match spec.protocol {
            ListenerProtocol::Json => Listener::json(socket),
            ListenerProtocol::Irc => Listener::irc(socket),
            ListenerProtocol::Http => {
                let scheme = if spec.tls { "https" } else { "http" };
                println!(
                    "Open {} in a browser to chat.",
                    web_url(scheme, socket.local_addr()?)
                );
                Listener::http(socket)
            }
        };
        listeners.push(match (&tls, spec.tls) {
            (Some((_, web)), true) if spec.protocol == ListenerProtocol::Http => {
                listener.with_tls(web.clone())
            }
            (Some((chat, _)), true) => listener.with_tls(chat.clone()),
            _ => listener,
        });
    }
    let shutdown = shutdown_signal()?;
    chatroom_server::run(listeners, config, shutdown).await?;
    Ok(())
}

/// The address to open for a listener bound to `addr` (an unspecified
/// address, bound on every interface, is opened on this machine's loopback).
fn web_url(scheme: &str, addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("{scheme}://{host}:{}/", addr.port())
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

/// The server the client joins when neither a flag nor the configuration
/// file names one.
const DEFAULT_SERVER: &str = "127.0.0.1:8000";

async fn join(mut args: JoinArgs, full_screen: bool) -> u8 {
    // The configuration file fills in what the flags leave out.
    let (path, optional) = match &args.config {
        Some(path) => (Some(path.clone()), false),
        None => (chatroom_client::config::default_path(), true),
    };
    let config = match path {
        Some(path) => match ClientConfig::load(&path, optional) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("chatroom: {e}");
                return 2;
            }
        },
        None => ClientConfig::default(),
    };
    let server = match (args.server.take(), &config.server) {
        (Some(server), _) => server,
        (None, Some(server)) => match chatroom_client::connection::parse_address(server) {
            Ok(server) => server,
            Err(e) => {
                eprintln!("chatroom: the configuration's server: {e}");
                return 2;
            }
        },
        (None, None) => DEFAULT_SERVER.to_owned(),
    };
    if args.nick.is_none() {
        args.nick = config.nick.clone();
        if args.password_env.is_none() {
            args.password_env = config.password_env.clone();
        }
    }
    args.tls |= config.tls;
    if args.ca.is_none() && !args.insecure {
        args.ca = config.ca.clone();
    }
    if args.cert.is_none() {
        args.cert = config.cert.clone();
        if args.key.is_none() {
            args.key = config.key.clone();
        }
    }
    // A certificate that would not be presented is a mistake to report:
    // the login would just be refused for want of a password.
    if args.cert.is_some() && !args.tls {
        eprintln!(
            "chatroom: a client certificate (--cert, or cert in the configuration) needs TLS (--tls, or tls = true)"
        );
        return 2;
    }
    if args.key.is_some() && args.cert.is_none() {
        eprintln!(
            "chatroom: a private key (--key, or key in the configuration) needs its certificate (--cert, or cert)"
        );
        return 2;
    }
    let look = match config.look() {
        Ok(look) => look,
        Err(e) => {
            eprintln!("chatroom: {e}");
            return 2;
        }
    };
    // A password asked for but missing is a mistake to report, not a
    // login without one.
    let password = match &args.password_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(password) if !password.is_empty() => Some(password),
            Ok(_) => {
                eprintln!("chatroom: the environment variable {var} (--password-env) is empty");
                return 2;
            }
            Err(_) => {
                eprintln!(
                    "chatroom: the environment variable {var} (--password-env) is not set, or not UTF-8"
                );
                return 2;
            }
        },
    };
    let tls = if args.tls {
        let trust = match (&args.ca, args.insecure) {
            (Some(ca), _) => Trust::CaFile(ca.clone()),
            (None, true) => Trust::Insecure,
            (None, false) => Trust::Public,
        };
        let identity = args.cert.clone().map(|cert| ClientCert {
            cert,
            key: args.key.clone(),
        });
        match TlsClient::new(&trust, identity.as_ref()) {
            Ok(tls) => Some(tls),
            Err(e) => {
                eprintln!("chatroom: {e}");
                return 2;
            }
        }
    } else {
        None
    };
    let server = Target {
        address: server,
        tls,
    };
    if full_screen {
        let options = tui::Options {
            server: server.clone(),
            nick: args.nick,
            password,
            look,
            ignore: config.ignore,
            log_dir: config.log_dir,
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
        server,
        nick: args.nick,
        password,
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

/// Runs the benchmark the flags ask for, prints its report (human or
/// JSON) and, with --plot, draws it.
async fn bench(args: BenchRunArgs) -> anyhow::Result<()> {
    let mut config = bench_config(&args);
    config.progress = std::io::stderr().is_terminal();
    if let Some(path) = &args.plot {
        // Find out before a long run, not after it, that the chart
        // cannot be written there.
        check_writable(path)?;
    }
    let json = args.json;
    let show = |human: String, json_text: String| {
        if json {
            println!("{json_text}");
        } else {
            print!("{human}");
        }
    };
    if args.idle {
        let report = chatroom_bench::idle(&config).await?;
        show(report.to_string(), chatroom_bench::to_json(&report));
    } else if args.find_max {
        let search = FindMax {
            max_p99: args.max_p99,
            max_steps: args.max_steps,
            ..FindMax::default()
        };
        let report = chatroom_bench::find_max(&config, search).await?;
        show(report.to_string(), chatroom_bench::to_json(&report));
        if let Some(path) = &args.plot {
            write_svg(path, &plot::find_max_chart(&report)?)?;
        }
    } else {
        let report = chatroom_bench::run(&config).await?;
        show(report.to_string(), chatroom_bench::to_json(&report));
        if let Some(path) = &args.plot {
            write_svg(path, &plot::run_chart(&report)?)?;
        }
    }
    Ok(())
}

/// The run the flags describe (progress bars off).
fn bench_config(args: &BenchRunArgs) -> chatroom_bench::Config {
    let mut config = chatroom_bench::Config::with_servers(args.server.clone());
    config.proto = match args.proto {
        ProtoArg::Json => Proto::Json,
        ProtoArg::Irc => Proto::Irc,
        ProtoArg::Ws => Proto::Ws,
        ProtoArg::IrcWs => Proto::IrcWs,
    };
    config.clients = args.clients;
    config.senders = args.senders;
    config.rate = args.rate;
    config.duration = args.duration;
    config.size = args.size;
    config.room = args.room.clone();
    config.ramp = args.ramp;
    config.connect_timeout = args.connect_timeout;
    config.quiet = args.quiet;
    config.drain_cap = args.drain;
    config.server_pids = args.server_pid.clone();
    config
}

/// `chatroom bench history`: fills, measures and prints the report.
async fn bench_history(args: HistoryArgs) -> anyhow::Result<()> {
    use chatroom_bench::history::{self, HistoryConfig, IngestConfig, Layout};
    let config = HistoryConfig {
        data_dir: args.data_dir,
        bin: std::env::current_exe().context("cannot find this program to start the server")?,
        messages: args.messages,
        layout: Layout {
            seed: args.seed,
            rooms: args.rooms,
            users: args.users,
            dm_pairs: args.dm_pairs,
            user_base: 0,
            first_id: 0,
            end_id: 0,
            t0_ms: 0,
            filled: 0,
        },
        joins: args.joins,
        pages: args.pages,
        searches: args.searches,
        starts: args.starts,
        ingest: (!args.no_ingest).then_some(IngestConfig {
            rate: args.ingest_rate,
            senders: args.senders,
            rooms_per_sender: args.rooms_per_sender,
            duration_s: args.ingest_duration.as_secs_f64(),
        }),
        retention_share: (args.retention_share > 0.0).then_some(args.retention_share),
    };
    let report = history::history(&config).await?;
    if args.json {
        println!("{}", chatroom_bench::to_json(&report));
    } else {
        print!("{report}");
    }
    Ok(())
}

/// `chatroom bench plot`: reads every report and draws them on one chart.
fn plot_reports(args: &PlotArgs) -> anyhow::Result<()> {
    let mut inputs = Vec::with_capacity(args.reports.len());
    for arg in &args.reports {
        let (label, path) = plot::labelled(arg);
        inputs.push((label, plot::load(&path)?));
    }
    let svg = plot::comparison_chart(&inputs)?;
    write_svg(&args.output, &svg)?;
    println!("wrote {}", args.output.display());
    Ok(())
}

/// Fails unless `path` can be created: its folder exists and it is not a
/// folder itself.
fn check_writable(path: &Path) -> anyhow::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    anyhow::ensure!(
        folder.is_dir(),
        "cannot write the chart {}: there is no folder {}",
        path.display(),
        folder.display()
    );
    anyhow::ensure!(
        !path.is_dir(),
        "cannot write the chart {}: it is a folder",
        path.display()
    );
    Ok(())
}

/// Writes a chart to `path`.
fn write_svg(path: &Path, svg: &str) -> anyhow::Result<()> {
    std::fs::write(path, svg)
        .map_err(|e| anyhow::anyhow!("cannot write the chart {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bench run that `chatroom bench ARGS...` describes.
    fn bench_run(args: &[&str]) -> chatroom_bench::Config {
        let argv = ["chatroom", "bench"].iter().chain(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Bench(bench) => bench_config(&bench.run),
            _ => panic!("not a bench command"),
        }
    }

    #[test]
    fn bench_loads_one_server_by_default() {
        let config = bench_run(&[]);
        assert_eq!(config.servers, ["127.0.0.1:8000"]);
        assert!(config.server_pids.is_empty());
        let config = bench_run(&["--server", "10.0.0.1:7000", "--server-pid", "42"]);
        assert_eq!(config.servers, ["10.0.0.1:7000"]);
        assert_eq!(config.server_pids, [42]);
    }

    #[test]
    fn bench_takes_several_servers_and_pids_in_order() {
        let config = bench_run(&[
            "--server",
            "127.0.0.1:8001",
            "--clients",
            "1000",
            "--server",
            "127.0.0.1:8002",
            "--server-pid",
            "11",
            "--server-pid",
            "12",
            "--server-pid",
            "13",
        ]);
        assert_eq!(config.servers, ["127.0.0.1:8001", "127.0.0.1:8002"]);
        assert_eq!(config.server_pids, [11, 12, 13]);
        assert_eq!((config.clients_on(0), config.clients_on(1)), (500, 500));
        assert_eq!(config.server_label(), "127.0.0.1:8001,127.0.0.1:8002");
        assert!(Cli::try_parse_from(["chatroom", "bench", "--server-pid", "x"]).is_err());
    }
}
