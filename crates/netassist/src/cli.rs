//! The command line: `netassist tcp-client | tcp-server | udp` and their flags.
//!
//! Every flag is documented here, because `--help` is the manual people read
//! first; `docs/netassist.md` repeats it with more examples.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::address::{HostPort, listen_arg, remote_arg};
use crate::codec::parse_hex;
use crate::duration::{parse_duration, parse_period};
use crate::encoding::Encoding;
use crate::error::Error;
use crate::options::{InputMode, LineEnding, Options, Payload, Schedule, Tls, View, Wait};
use crate::rules::ReplyRule;
use crate::tls::{TlsClient, TlsServer, Trust, self_signed_names};

const EXIT_CODES: &str = "\
Exit codes:
  0  done: input finished (and --wait passed), /quit, Ctrl-D, Ctrl-C or SIGTERM
  1  other failure: cannot bind, name does not resolve, I/O error, TLS handshake failed,
     unreadable --file/--log/--ca/--cert,
     or some input could not be sent (bad hex, unencodable text, datagram too long)
  2  usage: bad flag or value (bad hex, bad --reply rule, malformed HOST:PORT, a --send or
     --reply text the --encoding cannot represent, a udp payload larger than a datagram)
  3  connection refused (or reset at once, as a full --max-clients server does)
  4  connecting timed out (--connect-timeout)
  5  the peer closed the connection while we still had input to send (lines waiting,
     an unfinished --count, queued data it never took)";

const LONG_ABOUT: &str = "\
A terminal network debugging assistant, in the spirit of the NetAssist GUI, Packet
Sender, ncat and socat: a TCP client, a TCP server for many clients, or a UDP peer.
It shows what arrives as text (UTF-8, GBK or Latin-1, decoded as a stream) and/or
hexdump -C rows, with peer labels, RX/TX markers and optional timestamps; it sends
typed or piped lines, --send/--hex/--file payloads (optionally periodic), answers by
itself with --echo or --reply rules, and can keep a --log transcript. --raw makes it a
byte-exact pipe that half-closes at the end of stdin; --tls encrypts TCP.

Typed lines are sent as they are entered (line editing and history when stdin is a
terminal; plain lines when stdin is piped). Lines starting with / are commands: type
/help. Received data prints above the prompt.

Examples:
  netassist tcp-client 127.0.0.1:8001                      talk to a server by hand
  printf 'hello\\n' | netassist tcp-client 127.0.0.1:9000 --quiet --wait 1s
  netassist tcp-server 127.0.0.1:7000 --echo               an echo server in one line
  netassist tcp-server 9000 --encoding gbk --view both     be the tutorial's test peer
  netassist udp --bind 127.0.0.1:9999                      print every datagram and its source
  netassist udp --to 127.0.0.1:9999 --send 'tick {counter}' --every 500ms --count 10
  netassist tcp-server 127.0.0.1:7000 --reply 'ping=>pong' --log session.log
  netassist tcp-client 127.0.0.1:9000 --raw < request.bin > reply.bin   byte-exact, like ncat
  netassist tcp-server 127.0.0.1:8443 --tls --cert-out server.pem     TLS, self-signed
  netassist tcp-client 127.0.0.1:8443 --tls --ca server.pem";

/// netassist: TCP/UDP network debugging assistant for the terminal.
#[derive(Debug, Parser)]
#[command(name = "netassist", version, long_about = LONG_ABOUT, after_help = EXIT_CODES)]
pub struct Cli {
    /// Which kind of peer to be.
    #[command(subcommand)]
    pub mode: Mode,
}

/// The three modes.
#[derive(Debug, Subcommand)]
pub enum Mode {
    /// Connect to a TCP server and exchange data with it.
    #[command(
        after_help = EXIT_CODES,
        long_about = "Connect to HOST:PORT (IPv4, IPv6 as [::1]:PORT, or a name) and exchange data.\n\n\
            The run ends when you /quit or press Ctrl-D, or, when input is piped or comes from\n\
            --send/--hex/--file, once it is sent and --wait has passed (default 0; forever with\n\
            --echo/--reply). It also ends when the server closes the connection.\n\n\
            Examples:\n  \
            netassist tcp-client 127.0.0.1:8001\n  \
            printf '西瓜\\n拜拜\\n' | netassist tcp-client 127.0.0.1:8001 --wait 2s\n  \
            netassist tcp-client [::1]:7000 --hex 'de ad be ef' --view hex --wait 1s"
    )]
    TcpClient(TcpClientArgs),
    /// Listen for TCP clients; many at once, each with an id.
    #[command(
        after_help = EXIT_CODES,
        long_about = "Listen on [ADDR:]PORT (a bare PORT means all IPv4 interfaces, 0.0.0.0; use\n\
            127.0.0.1:PORT or [::1]:PORT to stay local) and serve many clients at once.\n\n\
            Each client gets an id (#1, #2, ...). Typed lines go to every client; /to ID TEXT\n\
            sends to one, /list lists them, /kick ID disconnects one. --send/--hex/--file run\n\
            once per client as it connects (with --every/--count: a feed per client).\n\
            Runs until /quit, Ctrl-D, Ctrl-C, or (with --wait) that long after input ends.\n\n\
            Examples:\n  \
            netassist tcp-server 127.0.0.1:7000 --echo\n  \
            netassist tcp-server 9000 --send 'welcome, you are visitor {counter}'\n  \
            netassist tcp-server 127.0.0.1:7000 --reply 'ping=>pong' --reply '*=>?'"
    )]
    TcpServer(TcpServerArgs),
    /// Send and receive UDP datagrams.
    #[command(
        after_help = EXIT_CODES,
        long_about = "Bind a UDP socket (--bind, or an ephemeral port when only --to is given) and\n\
            exchange datagrams. Each datagram is shown with its source as a peer id and\n\
            address (#1 127.0.0.1:5555). Typed lines go to --to, or else to the peer that\n\
            sent last; /to ID|HOST:PORT TEXT picks one; /list lists peers seen.\n\
            With --to the run ends like a client's (after input and --wait); without it,\n\
            it runs until stopped.\n\n\
            Examples:\n  \
            netassist udp --bind 127.0.0.1:9999 --echo\n  \
            echo hello | netassist udp --to 127.0.0.1:9999 --wait 1s\n  \
            netassist udp --bind [::1]:9999 --to [::1]:8888"
    )]
    Udp(UdpArgs),
}

impl Mode {
    /// The resolved options for this mode (reads the `--file` payload, sets
    /// up TLS and writes `--cert-out`).
    pub fn options(&self) -> Result<Options, Error> {
        let mut options = self.common().to_options()?;
        match self {
            Mode::TcpClient(args) if args.tls => {
                let trust = match (&args.ca, args.insecure) {
                    (Some(ca), _) => Trust::CaFile(ca.clone()),
                    (None, true) => Trust::Insecure,
                    (None, false) => Trust::Public,
                };
                let name = args.server_name.clone().unwrap_or(args.target.host.clone());
                options.tls = Some(Tls::Client(TlsClient::new(trust, Some(name))?));
            }
            Mode::TcpServer(args) => {
                options.max_clients = usize::try_from(args.max_clients).unwrap_or(usize::MAX);
                options.stall_timeout = args.stall_timeout;
                if args.tls {
                    options.tls = Some(Tls::Server(args.tls_server()?));
                }
            }
            Mode::TcpClient(_) | Mode::Udp(_) => {}
        }
        Ok(options)
    }

    /// The flags every mode shares.
    pub fn common(&self) -> &CommonArgs {
        match self {
            Mode::TcpClient(a) => &a.common,
            Mode::TcpServer(a) => &a.common,
            Mode::Udp(a) => &a.common,
        }
    }
}

/// `tcp-client` flags.
#[derive(Debug, Args)]
pub struct TcpClientArgs {
    /// Server to connect to: HOST:PORT, e.g. 127.0.0.1:8000, [::1]:8000, localhost:8000.
    #[arg(value_name = "HOST:PORT", value_parser = remote_arg)]
    pub target: HostPort,
    /// Give up connecting after this long (exit code 4).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Connect with TLS; the server's certificate must chain to a well-known public authority
    /// (see --ca and --insecure).
    #[arg(long, help_heading = "TLS")]
    pub tls: bool,
    /// Trust the certificates in this PEM file instead, e.g. a self-signed server's (what
    /// `tcp-server --tls --cert-out FILE` writes).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls",
        conflicts_with = "insecure",
        help_heading = "TLS"
    )]
    pub ca: Option<PathBuf>,
    /// Accept any certificate: encrypted, but the server is not authenticated (for tests).
    #[arg(long, requires = "tls", help_heading = "TLS")]
    pub insecure: bool,
    /// The name the server's certificate must be for [default: the HOST connected to].
    #[arg(long, value_name = "NAME", requires = "tls", help_heading = "TLS")]
    pub server_name: Option<String>,
    /// Flags shared by all modes.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `tcp-server` flags.
#[derive(Debug, Args)]
pub struct TcpServerArgs {
    /// Where to listen: PORT (all IPv4 interfaces), ADDR:PORT or [IPv6]:PORT. Port 0 picks a free one.
    #[arg(value_name = "[ADDR:]PORT", value_parser = listen_arg)]
    pub listen: HostPort,
    /// Refuse new clients while this many are connected.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_clients: u64,
    /// Typed and piped lines wait for clients that read slowly; a client that reads nothing
    /// for this long is skipped (its messages dropped) until it reads again.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_period)]
    pub stall_timeout: Duration,
    /// Serve TLS: with --cert and --key, or else with a self-signed certificate made on the spot
    /// for localhost, 127.0.0.1, ::1 and the address listened on.
    #[arg(long, help_heading = "TLS")]
    pub tls: bool,
    /// Certificate chain to serve (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"], help_heading = "TLS")]
    pub cert: Option<PathBuf>,
    /// Private key of --cert (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"], help_heading = "TLS")]
    pub key: Option<PathBuf>,
    /// Write the self-signed certificate (PEM) to FILE, for clients to trust with --ca.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls",
        conflicts_with = "cert",
        help_heading = "TLS"
    )]
    pub cert_out: Option<PathBuf>,
    /// Flags shared by all modes.
    #[command(flatten)]
    pub common: CommonArgs,
}

impl TcpServerArgs {
    /// The certificate to serve: `--cert`/`--key`, or a self-signed one
    /// (written to `--cert-out` if asked).
    fn tls_server(&self) -> Result<TlsServer, Error> {
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            return TlsServer::from_files(cert, key);
        }
        let (server, pem) = TlsServer::self_signed(self_signed_names(&self.listen.host))?;
        if let Some(path) = &self.cert_out {
            std::fs::write(path, pem).map_err(|e| Error::File(path.display().to_string(), e))?;
        }
        Ok(server)
    }
}

/// `udp` flags.
#[derive(Debug, Args)]
pub struct UdpArgs {
    /// Local address to receive on: PORT, ADDR:PORT or [IPv6]:PORT.
    #[arg(long, value_name = "ADDR:PORT", required_unless_present = "to", value_parser = listen_arg)]
    pub bind: Option<HostPort>,
    /// Default destination for typed lines and --send/--hex/--file.
    #[arg(long, value_name = "HOST:PORT", value_parser = remote_arg)]
    pub to: Option<HostPort>,
    /// Flags shared by all modes.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Bytes given as hex on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexBytes(pub Vec<u8>);

fn hex_arg(s: &str) -> Result<HexBytes, String> {
    parse_hex(s).map(HexBytes).map_err(|e| e.to_string())
}

/// Flags shared by every mode.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Show data as decoded text, hexdump -C rows, or both.
    #[arg(long, value_enum, default_value_t, help_heading = "Receiving")]
    pub view: View,
    /// Prefix every shown line with [HH:MM:SS.mmm].
    #[arg(short, long, help_heading = "Receiving")]
    pub timestamps: bool,
    /// Encoding of text on the wire, both directions. Split characters are reassembled.
    #[arg(short, long, value_enum, default_value_t, help_heading = "Receiving")]
    pub encoding: Encoding,

    /// Send this text once connected (tcp-server: to each client as it connects).
    /// Macros {counter} {time} {date} {unixtime} are expanded; --eol is appended.
    #[arg(long, value_name = "TEXT", group = "payload", help_heading = "Sending")]
    pub send: Option<String>,
    /// Send these bytes, e.g. "de ad be ef", "deadbeef", "0xde 0xad" (no --eol added).
    #[arg(long, value_name = "BYTES", group = "payload", value_parser = hex_arg, help_heading = "Sending")]
    pub hex: Option<HexBytes>,
    /// Send this file's bytes as they are (read once, at start).
    #[arg(long, value_name = "PATH", group = "payload", help_heading = "Sending")]
    pub file: Option<PathBuf>,
    /// Repeat the --send/--hex/--file payload at this interval, e.g. 500ms, 2s (1ms to 365 days).
    #[arg(long, value_name = "DURATION", value_parser = parse_period, requires = "payload", help_heading = "Sending")]
    pub every: Option<Duration>,
    /// Send the payload this many times [default: 1, or unlimited with --every].
    #[arg(long, value_name = "N", requires = "payload", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Sending")]
    pub count: Option<u64>,
    /// Also read input lines from stdin when a payload flag is given (otherwise it is ignored).
    #[arg(long, help_heading = "Sending")]
    pub stdin: bool,
    /// Line ending appended to every sent text (typed lines, --send, replies).
    #[arg(long, value_enum, default_value_t, help_heading = "Sending")]
    pub eol: LineEnding,
    /// How input lines are read: as text, or as hex bytes ("de ad be ef").
    #[arg(long, value_enum, default_value_t, help_heading = "Sending")]
    pub input: InputMode,
    /// Treat every input line as data: no /commands.
    #[arg(long, help_heading = "Sending")]
    pub literal: bool,
    /// Send {counter}, {time}, {date}, {unixtime} literally instead of expanding them.
    #[arg(long, help_heading = "Sending")]
    pub no_macros: bool,
    /// Escapes in sent text (NetAssist's 转义符): \r \n \t \0 \\ and \xNN send those bytes.
    #[arg(short = 'E', long, help_heading = "Sending")]
    pub escapes: bool,

    /// Auto-reply: when a received line equals PATTERN, send RESPONSE (repeatable, first match
    /// wins; PATTERN * matches any line), e.g. --reply 'ping=>pong'.
    #[arg(long, value_name = "PATTERN=>RESPONSE", value_parser = ReplyRule::parse, help_heading = "Answering")]
    pub reply: Vec<ReplyRule>,
    /// Send every received chunk straight back to its sender.
    #[arg(long, conflicts_with = "reply", help_heading = "Answering")]
    pub echo: bool,

    /// After input ends, keep receiving this long (e.g. 2s) or `forever`. Default: 0 for
    /// tcp-client and udp --to; forever for tcp-server, udp without --to, --echo and --reply.
    #[arg(long, value_name = "DURATION|forever", value_parser = Wait::parse, help_heading = "Session")]
    pub wait: Option<Wait>,
    /// Append a timestamped transcript of both directions and of session events to FILE.
    #[arg(long, value_name = "FILE", help_heading = "Session")]
    pub log: Option<PathBuf>,
    /// For scripts: print only received data, raw (no markers, status or TX lines); errors still go to stderr.
    #[arg(short, long, help_heading = "Session")]
    pub quiet: bool,
    /// Byte-exact, like ncat: stdin goes out unchanged, received bytes go to stdout unchanged,
    /// and the end of stdin half-closes the connection (tcp-client then waits for the peer to
    /// close). No /commands, no text decoding, no status lines.
    #[arg(long, help_heading = "Session", conflicts_with_all = ["view", "input", "literal", "timestamps"])]
    pub raw: bool,
}

impl CommonArgs {
    /// Whether stdin should be read as input lines.
    pub fn reads_stdin(&self) -> bool {
        self.stdin || (self.send.is_none() && self.hex.is_none() && self.file.is_none())
    }

    /// The resolved options shared by every mode (reads the `--file` payload).
    pub fn to_options(&self) -> Result<Options, Error> {
        let payload = if let Some(text) = &self.send {
            Some(Payload::Text(text.clone()))
        } else if let Some(HexBytes(bytes)) = &self.hex {
            Some(Payload::Bytes(bytes.clone()))
        } else if let Some(path) = &self.file {
            let bytes =
                std::fs::read(path).map_err(|e| Error::File(path.display().to_string(), e))?;
            Some(Payload::Bytes(bytes))
        } else {
            None
        };
        let schedule = payload.map(|payload| Schedule {
            payload,
            every: self.every,
            count: match (self.count, self.every) {
                (Some(n), _) => Some(n),
                (None, Some(_)) => None,
                (None, None) => Some(1),
            },
        });
        Ok(Options {
            view: self.view,
            timestamps: self.timestamps,
            quiet: self.quiet || self.raw,
            raw: self.raw,
            encoding: self.encoding,
            eol: self.eol,
            input_mode: self.input,
            commands: !self.literal,
            macros: !self.no_macros,
            escapes: self.escapes,
            schedule,
            rules: self.reply.clone(),
            echo: self.echo,
            wait: self.wait,
            ..Options::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("netassist").chain(args.iter().copied()))
    }

    #[test]
    fn parses_a_periodic_client() {
        let cli = parse(&[
            "tcp-client",
            "127.0.0.1:9000",
            "--send",
            "n{counter}",
            "--every",
            "500ms",
            "--count",
            "3",
            "-e",
            "gbk",
        ])
        .expect("valid");
        let Mode::TcpClient(args) = &cli.mode else {
            panic!("wrong mode")
        };
        let o = args.common.to_options().expect("options");
        assert_eq!(o.encoding, Encoding::Gbk);
        assert_eq!(
            o.schedule,
            Some(Schedule {
                payload: Payload::Text("n{counter}".into()),
                every: Some(Duration::from_millis(500)),
                count: Some(3)
            })
        );
        assert!(!args.common.reads_stdin());
    }

    #[test]
    fn rejects_bad_combinations_and_values() {
        assert!(parse(&["tcp-client", "h:1", "--send", "a", "--hex", "00"]).is_err());
        assert!(parse(&["tcp-client", "h:1", "--every", "1s"]).is_err());
        assert!(parse(&["tcp-client", "h:1", "--hex", "zz"]).is_err());
        assert!(parse(&["tcp-client", "h:1", "--reply", "nope"]).is_err());
        assert!(parse(&["tcp-client", "h:1", "--echo", "--reply", "a=>b"]).is_err());
        assert!(parse(&["tcp-client", "h:1", "--wait", "soon"]).is_err());
        assert!(parse(&["tcp-client", "h:1", "--send", "a", "--count", "0"]).is_err());
        assert!(parse(&["udp"]).is_err());
        assert!(parse(&["udp", "--to", "127.0.0.1:1"]).is_ok());
    }

    #[test]
    fn tls_flags_belong_together() {
        assert!(
            parse(&["tcp-client", "h:1", "--insecure"]).is_err(),
            "needs --tls"
        );
        assert!(parse(&["tcp-client", "h:1", "--tls", "--insecure", "--ca", "x"]).is_err());
        assert!(
            parse(&["tcp-server", "1", "--tls", "--cert", "c"]).is_err(),
            "needs --key"
        );
        assert!(
            parse(&[
                "tcp-server",
                "1",
                "--tls",
                "--cert-out",
                "o",
                "--cert",
                "c",
                "--key",
                "k"
            ])
            .is_err()
        );
        assert!(
            parse(&["udp", "--to", "h:1", "--tls"]).is_err(),
            "no TLS over UDP"
        );
        let cli = parse(&["tcp-client", "h:1", "--tls", "--insecure"]).expect("valid");
        assert!(matches!(
            cli.mode.options().expect("options").tls,
            Some(Tls::Client(_))
        ));
    }

    #[test]
    fn missing_file_is_reported() {
        let cli = parse(&["tcp-client", "h:1", "--file", "/nonexistent/netassist"]).expect("valid");
        let err = cli.mode.options().expect_err("missing file");
        assert_eq!(err.exit_code(), 1);
    }
}
