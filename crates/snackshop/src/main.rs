//! The `snackshop` command: `serve` runs the shop, `buy` shops at it, `report` prints the books.
//! All the logic lives in the library; this file parses flags, sets up logging and calls in.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use snackshop::admin;
use snackshop::client;
use snackshop::report;
use snackshop::server::DEFAULT_BALANCE;
use snackshop::store::DEFAULT_DB_FILE;
use snackshop::{Catalog, DbLocation, Lang, Limits, Money, Shop, ShopConfig, WireEncoding};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "snackshop",
    version,
    about = "A snack shop server that serves many customers at once, its client, its report and \
its stock and balance keeping",
    long_about = "The snack shop of the tutorial (案例:零食销售系统) done properly: customers connect \
over TCP (nc, telnet, netassist or `snackshop buy`), see the goods with prices and stock, and buy \
by name in Chinese or English, by number, with quantities. Many customers can shop at once; stock \
and balances change atomically and every sale is recorded in SQLite before it is confirmed.

Examples:
  snackshop serve                               # 127.0.0.1:8001, Chinese, ./snackshop.db
  snackshop serve --lang en --balance 20 --catalog my-goods.toml
  snackshop buy                                 # shop interactively
  printf '西瓜\\n2 矿泉水\\n拜拜\\n' | snackshop buy  # or scripted
  nc 127.0.0.1 8001                             # any line-based tool works
  snackshop report                              # sales and stock, also while serving
  snackshop restock 西瓜 20                      # add stock, recorded in the books
  snackshop topup 张三 50                        # add to a named customer's balance

Logging goes to standard error; set RUST_LOG (e.g. RUST_LOG=debug) to see more."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the shop server until Ctrl-C or SIGTERM.
    #[command(
        long_about = "Run the shop server until Ctrl-C or SIGTERM. On shutdown it stops \
accepting customers, tells everyone still inside that the shop is closing, and exits 0.\n\n\
Stock lives in the database: the catalog's stock only seeds goods the database has not seen yet, \
so stock survives restarts. Prices and names always come from the catalog."
    )]
    Serve(ServeArgs),
    /// Shop at a running server: prints what the shop says, sends what you type.
    #[command(
        long_about = "Shop at a running server: prints every line the shop says and \
sends every line you type (or pipe in). Exits when the shop says goodbye and closes the \
connection, e.g. after 拜拜 or bye.\n\nExample: printf '西瓜\\n拜拜\\n' | snackshop buy"
    )]
    Buy(BuyArgs),
    /// Print sales per good, totals, recent sales and remaining stock.
    #[command(
        long_about = "Print sales per good (count and revenue), totals, recent sales and \
remaining stock from the shop's database, and check that every customer's balance matches their \
recorded sales. Safe to run while the server is running."
    )]
    Report(ReportArgs),
    /// Add stock of a good; recorded in the books. Works while the server runs.
    #[command(
        long_about = "Add stock of a good, given by its Chinese or English name or its menu \
number, e.g. `snackshop restock 西瓜 20`. The restock is recorded in the books (the report \
counts it) and works while the server runs: the next customer sees the new stock."
    )]
    Restock(RestockArgs),
    /// Add money to a customer's balance; recorded in the books. Works while the server runs.
    #[command(
        long_about = "Add money to a customer's balance, e.g. `snackshop topup 张三 50`. The \
customer is a name they gave in the shop (名字 张三 / name alice), or #ID as the report lists \
anonymous customers. The top-up is recorded in the books (the report's books check counts it) \
and works while the server runs."
    )]
    Topup(TopupArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (use 0.0.0.0:8001 to let other machines in).
    #[arg(long, default_value = "127.0.0.1:8001")]
    listen: SocketAddr,
    /// Catalog TOML file: [[goods]] with zh, en, price, stock (default: the tutorial's 瓜子 4.5,
    /// 西瓜 2, 矿泉水 2.5).
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// SQLite database file for stock, customers and sales (created if missing).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DB_FILE, conflicts_with = "in_memory")]
    db: PathBuf,
    /// Keep the books in memory only: everything is forgotten when the server stops.
    #[arg(long)]
    in_memory: bool,
    /// Language of the dialogue: zh (Chinese, as in the tutorial) or en. Customers can switch
    /// with "english" / "中文".
    #[arg(long, default_value = "zh")]
    lang: Lang,
    /// Encoding customers write and are answered in: utf-8, gbk, or auto (each connection in
    /// the encoding its customer writes: valid UTF-8, or else GBK, as the tutorial's clients and
    /// NetAssist on Chinese Windows send).
    #[arg(long, value_name = "ENCODING", default_value = "auto")]
    encoding: WireEncoding,
    /// Starting balance of every new customer, in yuan (e.g. 100 or 20.5).
    #[arg(long, value_name = "YUAN", default_value_t = DEFAULT_BALANCE)]
    balance: Money,
    /// Most customers served at once; more are told the shop is full.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_customers)]
    max_customers: usize,
    /// Most customers served at once from one IP address (load tests from one machine need more).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_per_address)]
    max_per_address: usize,
    /// Seconds a customer may stay without sending a line before being shown out.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// Seconds a new customer may stay before sending a first request.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().first_request_timeout.as_secs())]
    first_request_timeout: u64,
}

#[derive(Debug, Args)]
struct BuyArgs {
    /// The shop's address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8001")]
    server: String,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// The shop's SQLite database file.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DB_FILE)]
    db: PathBuf,
    /// How many recent sales to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    recent: usize,
    /// Language of the report: zh or en.
    #[arg(long, default_value = "zh")]
    lang: Lang,
}

#[derive(Debug, Args)]
struct RestockArgs {
    /// The good: its Chinese or English name, or its number on the menu.
    good: String,
    /// How many to add (1 to 1,000,000; a good holds at most 1,000,000).
    qty: u32,
    /// The shop's SQLite database file.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DB_FILE)]
    db: PathBuf,
    /// Language of the confirmation: zh or en.
    #[arg(long, default_value = "zh")]
    lang: Lang,
}

#[derive(Debug, Args)]
struct TopupArgs {
    /// The customer: a name, or #ID for an anonymous customer (as the report lists them).
    customer: String,
    /// How much to add, in yuan (e.g. 50 or 12.5).
    amount: Money,
    /// The shop's SQLite database file.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DB_FILE)]
    db: PathBuf,
    /// Language of the confirmation: zh or en.
    #[arg(long, default_value = "zh")]
    lang: Lang,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole chain of causes on one line, without a backtrace.
            eprintln!("snackshop: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let default_level = match cli.command {
        Command::Serve(_) => "info",
        Command::Buy(_) | Command::Report(_) | Command::Restock(_) | Command::Topup(_) => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Buy(args) => buy(args),
        Command::Report(args) => print_report(args),
        Command::Restock(args) => {
            let done = admin::restock(&args.db, &args.good, args.qty)?;
            println!("{}", done.render(args.lang));
            Ok(())
        }
        Command::Topup(args) => {
            let done = admin::topup(&args.db, &args.customer, args.amount)?;
            println!("{}", done.render(args.lang));
            Ok(())
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn serve(args: ServeArgs) -> Result<()> {
    anyhow::ensure!(args.max_customers > 0, "--max-customers must be at least 1");
    anyhow::ensure!(
        args.idle_timeout > 0,
        "--idle-timeout must be at least 1 second"
    );
    anyhow::ensure!(
        args.max_per_address > 0,
        "--max-per-address must be at least 1"
    );
    anyhow::ensure!(
        args.first_request_timeout > 0,
        "--first-request-timeout must be at least 1 second"
    );
    let catalog = match &args.catalog {
        Some(path) => Catalog::load(path)?,
        None => Catalog::builtin(),
    };
    let db = if args.in_memory {
        DbLocation::InMemory
    } else {
        DbLocation::File(args.db.clone())
    };
    let config = ShopConfig {
        catalog,
        db,
        lang: args.lang,
        encoding: args.encoding,
        start_balance: args.balance,
        limits: Limits {
            max_customers: args.max_customers,
            max_per_address: args.max_per_address,
            idle_timeout: Duration::from_secs(args.idle_timeout),
            first_request_timeout: Duration::from_secs(args.first_request_timeout),
            ..Limits::default()
        },
        ..ShopConfig::default()
    };
    runtime()?.block_on(async {
        let shop = Shop::bind(args.listen, config).await?;
        let addr = shop.local_addr()?;
        // One plain line on stdout, so scripts (and tests) can find the port when using :0.
        println!("snackshop listening on {addr}");
        shop.run(shutdown_signal()).await?;
        Ok(())
    })
}

/// Completes on Ctrl-C or (on Unix) SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: closing the shop"),
        () = term => tracing::info!("SIGTERM: closing the shop"),
    }
}

fn buy(args: BuyArgs) -> Result<()> {
    runtime()?.block_on(client::shop(
        &args.server,
        client::stdin_lines(),
        tokio::io::stdout(),
    ))?;
    Ok(())
}

fn print_report(args: ReportArgs) -> Result<()> {
    let report = report::load(&args.db, args.recent)?;
    print!("{}", report.render(args.lang));
    Ok(())
}
