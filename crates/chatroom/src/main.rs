//! `chatroom`: the server (`serve`), the client (`join`) and the load
//! generator (`bench`) in one binary.
//!
//! This file only parses flags, sets up logging and signals, and calls the
//! libraries; everything else lives in `chatroom-server`,
//! `chatroom-client` and `chatroom-bench`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chatroom_bench::{FindMax, Proto};
use chatroom_client::line;
use chatroom_server::store::{Location, Retention, RetentionPolicy, RoomRetention};
use chatroom_server::{Config, DEFAULT_HISTORY_REPLAY};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// A chat room you can run yourself.
#[derive(Parser)]
#[command(
    name = "chatroom",
    version,
    about = "A chat room you can run yourself: server, client and load generator",
    long_about = "A chat room you can run yourself.\n\n\
        Start a server with `chatroom serve`, then join it from other terminals with \
        `chatroom join --nick NAME`. The server speaks the JSON protocol of the classic \
        Python socket tutorial (its client works unchanged) and relays every message to \
        everyone online.",
    after_help = "Examples:\n  \
        chatroom serve                          # listen on 127.0.0.1:8000\n  \
        chatroom serve --listen 0.0.0.0:8000    # accept clients from the network\n  \
        chatroom join --nick alice              # join and chat\n  \
        printf 'login bob\\nsend hi\\n' | chatroom join   # scripted: deliver one message\n  \
        chatroom bench --clients 200 --senders 20 --rate 50   # load-test the server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the chat server until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Join a chat server: type `login NAME`, then chat.
    Join(JoinArgs),
    /// Load-test a chat server (ours, or any IRC server) and report
    /// throughput, loss, latency and CPU.
    #[command(
        long_about = "Load-test a chat server and report what it delivered.\n\n\
            Connects --clients clients (--ramp per second) into one room. --senders of them then \
            send --rate messages per second each, open loop (by the clock, never waiting for \
            replies), for --duration; every message is --size bytes and carries its send time. \
            After a wait for late deliveries the report gives: connected, offered, actually sent, \
            expected and delivered deliveries, loss, deliveries per second, latency p50/p90/p99/\
            p99.9/max, the bench's own CPU time, and with --server-pid the server's CPU time and \
            memory. --find-max searches for the highest clean rate; --idle holds idle clients to \
            measure memory per connection. docs/bench.md is the manual.",
        after_help = "Examples:\n  \
            chatroom bench --clients 1000 --senders 20 --rate 100 --duration 10s\n  \
            chatroom bench --server-pid $(pgrep -f 'chatroom serve') --json > run.json\n  \
            chatroom bench --proto irc --server 127.0.0.1:6667 --clients 1000 --senders 1000 --rate 1\n  \
            chatroom bench --find-max --clients 1000 --senders 20 --rate 50 --duration 5s\n  \
            chatroom bench --idle --clients 10000 --ramp 200 --duration 30s --server-pid 4242"
    )]
    Bench(BenchArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on for JSON clients.
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR:PORT")]
    listen: SocketAddr,
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
    /// Log in with this nickname right away (otherwise type `login NAME`).
    #[arg(long, value_name = "NAME")]
    nick: Option<String>,
}

/// The wire protocol `chatroom bench` speaks.
#[derive(Clone, Copy, ValueEnum)]
enum ProtoArg {
    /// The chatroom JSON protocol (docs/protocol.md).
    Json,
    /// IRC: works against any IRC server (ngIRCd, InspIRCd, ...).
    Irc,
}

#[derive(Args)]
struct BenchArgs {
    /// The server to load.
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "HOST:PORT")]
    server: String,
    /// The protocol the clients speak.
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
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
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
            init_logging("warn");
            ExitCode::from(runtime.block_on(join(args)))
        }
        Command::Bench(args) => {
            init_logging("warn");
            match runtime.block_on(bench(args)) {
                Ok(report) => {
                    print!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("chatroom bench: {e}");
                    ExitCode::FAILURE
                }
            }
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
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
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
    };
    let shutdown = shutdown_signal()?;
    chatroom_server::run(listener, config, shutdown).await?;
    Ok(())
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

async fn join(args: JoinArgs) -> u8 {
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

/// Runs the benchmark the flags ask for; returns the report as text (human
/// or JSON).
async fn bench(args: BenchArgs) -> Result<String, chatroom_bench::BenchError> {
    let mut config = chatroom_bench::Config::new(args.server);
    config.proto = match args.proto {
        ProtoArg::Json => Proto::Json,
        ProtoArg::Irc => Proto::Irc,
    };
    config.clients = args.clients;
    config.senders = args.senders;
    config.rate = args.rate;
    config.duration = args.duration;
    config.size = args.size;
    config.room = args.room;
    config.ramp = args.ramp;
    config.connect_timeout = args.connect_timeout;
    config.quiet = args.quiet;
    config.drain_cap = args.drain;
    config.server_pid = args.server_pid;
    config.progress = std::io::stderr().is_terminal();
    let json = args.json;
    let show = |human: String, json_text: String| if json { json_text + "\n" } else { human };
    if args.idle {
        let report = chatroom_bench::idle(&config).await?;
        Ok(show(report.to_string(), chatroom_bench::to_json(&report)))
    } else if args.find_max {
        let search = FindMax {
            max_p99: args.max_p99,
            max_steps: args.max_steps,
            ..FindMax::default()
        };
        let report = chatroom_bench::find_max(&config, search).await?;
        Ok(show(report.to_string(), chatroom_bench::to_json(&report)))
    } else {
        let report = chatroom_bench::run(&config).await?;
        Ok(show(report.to_string(), chatroom_bench::to_json(&report)))
    }
}
