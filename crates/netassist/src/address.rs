//! Addresses as people type them: `HOST:PORT`, `[IPv6]:PORT`, and for
//! listening a bare `PORT`.
//!
//! The syntax is checked here, before any name lookup, so a typo (no port,
//! port 99999, an IPv6 address without brackets) is a usage error with a
//! message saying what is wrong, and only a name that really does not resolve
//! is a resolution failure.

use std::fmt;
use std::net::SocketAddr;

use crate::error::Error;

/// A host (name or IP address) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// A name or an IP address, IPv6 without its brackets.
    pub host: String,
    /// The port.
    pub port: u16,
}

/// Whether port 0 makes sense: it does for binding (the system picks a free
/// port), not for connecting or sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// Port 0 is allowed.
    AnyAllowed,
    /// Port 0 is refused.
    NonZero,
}

impl HostPort {
    /// Parses `HOST:PORT` or `[IPv6]:PORT`.
    pub fn parse(text: &str, port_rule: Port) -> Result<HostPort, String> {
        let shape = || {
            format!(
                "{text:?} is not HOST:PORT (for example 127.0.0.1:8000, localhost:8000 or \
                 [::1]:8000)"
            )
        };
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(shape)?;
            let port = after.strip_prefix(':').ok_or_else(shape)?;
            if host.is_empty() || host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("{host:?} in {text:?} is not an IPv6 address"));
            }
            (host, port)
        } else {
            let (host, port) = text.rsplit_once(':').ok_or_else(shape)?;
            if host.contains(':') {
                return Err(format!(
                    "{text:?}: write an IPv6 address in brackets, e.g. [::1]:8000"
                ));
            }
            if host.is_empty() || host.contains(char::is_whitespace) {
                return Err(shape());
            }
            (host, port)
        };
        let port = parse_port(port, text, port_rule)?;
        Ok(HostPort {
            host: host.to_owned(),
            port,
        })
    }

    /// Parses where to listen: `PORT` alone means every IPv4 interface
    /// (`0.0.0.0:PORT`, like `nc -l`), otherwise `ADDR:PORT` or `[IPv6]:PORT`.
    /// Port 0 asks the system for a free port.
    pub fn parse_listen(text: &str) -> Result<HostPort, String> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(HostPort {
                host: "0.0.0.0".to_owned(),
                port: parse_port(text, text, Port::AnyAllowed)?,
            });
        }
        HostPort::parse(text, Port::AnyAllowed)
    }

    /// Every address the host resolves to, in the resolver's order.
    pub async fn resolve(&self) -> Result<Vec<SocketAddr>, Error> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| Error::Resolve(self.to_string(), e.to_string()))?
            .collect();
        if addrs.is_empty() {
            return Err(Error::Resolve(self.to_string(), "no addresses".into()));
        }
        Ok(addrs)
    }

    /// The first address the host resolves to.
    pub async fn resolve_first(&self) -> Result<SocketAddr, Error> {
        let addrs = self.resolve().await?;
        addrs
            .first()
            .copied()
            .ok_or_else(|| Error::Resolve(self.to_string(), "no addresses".into()))
    }
}

impl From<SocketAddr> for HostPort {
    fn from(addr: SocketAddr) -> HostPort {
        HostPort {
            host: addr.ip().to_string(),
            port: addr.port(),
        }
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn parse_port(port: &str, text: &str, rule: Port) -> Result<u16, String> {
    let bad = || format!("the port in {text:?} must be a number from 1 to 65535");
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match port.parse::<u16>() {
        Ok(0) if rule == Port::NonZero => Err(bad()),
        Ok(n) => Ok(n),
        Err(_) => Err(bad()),
    }
}

/// clap value parser for a destination (`HOST:PORT`, port 1 to 65535).
pub fn remote_arg(text: &str) -> Result<HostPort, String> {
    HostPort::parse(text, Port::NonZero)
}

/// clap value parser for a local address (`PORT`, `ADDR:PORT`, port 0 allowed).
pub fn listen_arg(text: &str) -> Result<HostPort, String> {
    HostPort::parse_listen(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_names_ipv4_and_bracketed_ipv6() {
        assert_eq!(remote_arg("127.0.0.1:8000"), Ok(hp("127.0.0.1", 8000)));
        assert_eq!(remote_arg("localhost:1"), Ok(hp("localhost", 1)));
        assert_eq!(remote_arg("[::1]:65535"), Ok(hp("::1", 65535)));
        assert_eq!(hp("::1", 7).to_string(), "[::1]:7");
        assert_eq!(hp("example.org", 7).to_string(), "example.org:7");
    }

    #[test]
    fn listen_addresses_allow_a_bare_port_and_port_zero() {
        assert_eq!(listen_arg("9000"), Ok(hp("0.0.0.0", 9000)));
        assert_eq!(listen_arg("127.0.0.1:0"), Ok(hp("127.0.0.1", 0)));
        assert_eq!(listen_arg("[::1]:0"), Ok(hp("::1", 0)));
        assert!(listen_arg("99999").is_err());
        assert!(listen_arg("").is_err());
    }

    #[test]
    fn refuses_malformed_addresses_with_a_reason() {
        for (text, why) in [
            ("127.0.0.1", "HOST:PORT"),
            ("127.0.0.1:", "port"),
            ("127.0.0.1:99999", "port"),
            ("127.0.0.1:0", "port"),
            ("127.0.0.1:-1", "port"),
            ("127.0.0.1:8o", "port"),
            (":8000", "HOST:PORT"),
            ("::1:8000", "brackets"),
            ("[::1]8000", "HOST:PORT"),
            ("[::1", "HOST:PORT"),
            ("[nope]:1", "IPv6"),
            ("a b:1", "HOST:PORT"),
        ] {
            let err = remote_arg(text).expect_err(text);
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[tokio::test]
    async fn resolves_ip_literals_without_a_lookup() {
        let addrs = hp("::1", 9).resolve().await.expect("resolves");
        assert_eq!(addrs, vec!["[::1]:9".parse::<SocketAddr>().expect("addr")]);
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = remote_arg(&s);
            let _ = listen_arg(&s);
        }
    }
}
