//! TLS for `tcp-client --tls` and `tcp-server --tls` (rustls, ring provider,
//! TLS 1.2 and 1.3), like `ncat --ssl` and Packet Sender's SSL mode.
//!
//! The client checks the server's certificate against the well-known public
//! authorities (Mozilla's list, built in), or against `--ca FILE`, or not at
//! all with `--insecure` (encrypted, but the server is not authenticated).
//! The server uses `--cert`/`--key` PEM files, or a self-signed certificate
//! made on the spot for `localhost`, `127.0.0.1`, `::1` and the address it
//! listens on; `--cert-out FILE` writes that certificate so a client can
//! trust it with `--ca`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::error::Error;

/// How long a TLS handshake may take before the connection is given up.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the client checks the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The well-known public authorities.
    Public,
    /// The certificates in this PEM file (`--ca`).
    CaFile(PathBuf),
    /// Any certificate (`--insecure`).
    Insecure,
}

/// A ready TLS client: what to trust and which name to check.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    /// The name the certificate must be for; `None`: the host connected to.
    server_name: Option<String>,
    trust: Trust,
}

/// A ready TLS server: its certificate and key.
#[derive(Clone)]
pub struct TlsServer {
    acceptor: TlsAcceptor,
    /// Where the certificate came from, for the status line.
    pub origin: String,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("trust", &self.trust)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServer")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn setup_error(e: impl fmt::Display) -> Error {
    Error::Tls(format!("TLS setup failed: {e}"))
}

impl TlsClient {
    /// A client trusting `trust`; `server_name` overrides the name checked.
    pub fn new(trust: Trust, server_name: Option<String>) -> Result<TlsClient, Error> {
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(setup_error)?;
        let config = match &trust {
            Trust::Public => {
                let roots = rustls::RootCertStore::from_iter(
                    webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
                );
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            Trust::CaFile(path) => builder
                .with_root_certificates(load_roots(path)?)
                .with_no_client_auth(),
            Trust::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
                .with_no_client_auth(),
        };
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
            trust,
        })
    }

    /// Performs the handshake on `stream`, connected to `peer`. The
    /// certificate must be for the server name given, or else for the
    /// peer's IP address.
    pub async fn connect(
        &self,
        stream: TcpStream,
        peer: std::net::SocketAddr,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
        let host = peer.to_string();
        let name = match &self.server_name {
            Some(name) => ServerName::try_from(name.clone())
                .map_err(|e| Error::Usage(format!("{name:?} cannot be a TLS server name: {e}")))?,
            None => ServerName::IpAddress(peer.ip().into()),
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.connector.connect(name, stream)).await {
            Err(_) => Err(Error::Tls(format!(
                "TLS handshake with {host} timed out after {}s",
                HANDSHAKE_TIMEOUT.as_secs()
            ))),
            // Reset during the handshake: turned away (a full server does this).
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                Err(Error::Refused(host))
            }
            Ok(Err(e)) => Err(Error::Tls(format!(
                "TLS handshake with {host} failed: {e}{}",
                match self.trust {
                    Trust::Public => " (for a self-signed server use --ca FILE or --insecure)",
                    Trust::CaFile(_) | Trust::Insecure => "",
                }
            ))),
            Ok(Ok(stream)) => Ok(stream),
        }
    }
}

impl TlsServer {
    /// A server with the certificate chain in `cert` and the key in `key` (PEM).
    pub fn from_files(cert: &Path, key: &Path) -> Result<TlsServer, Error> {
        let read_error = |path: &Path, e: &dyn fmt::Display| {
            Error::Tls(format!("cannot read {}: {e}", path.display()))
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| read_error(cert, &e))?;
        if certs.is_empty() {
            return Err(read_error(cert, &"no certificate in the file"));
        }
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| read_error(key, &e))?;
        TlsServer::with(certs, key_der, format!("certificate {}", cert.display()))
    }

    /// A server with a self-signed certificate made now for `names` (DNS
    /// names or IP addresses). Returns it with the certificate as PEM.
    pub fn self_signed(names: Vec<String>) -> Result<(TlsServer, String), Error> {
        let shown = names.join(", ");
        let certified = rcgen::generate_simple_self_signed(names).map_err(setup_error)?;
        let pem = certified.cert.pem();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let server = TlsServer::with(
            vec![certified.cert.der().clone()],
            key,
            format!("a self-signed certificate for {shown}"),
        )?;
        Ok((server, pem))
    }

    fn with(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        origin: String,
    ) -> Result<TlsServer, Error> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(setup_error)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(setup_error)?;
        Ok(TlsServer {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            origin,
        })
    }

    /// Performs the handshake with a client on `stream`.
    pub async fn accept(
        &self,
        stream: TcpStream,
    ) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
            Err(_) => Err(format!(
                "TLS handshake timed out after {}s",
                HANDSHAKE_TIMEOUT.as_secs()
            )),
            Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
            Ok(Ok(stream)) => Ok(stream),
        }
    }
}

/// The names a self-signed server certificate is made for: the loopback
/// names, plus the address listened on if it is a specific one.
pub fn self_signed_names(listen_host: &str) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let specific = listen_host
        .parse::<std::net::IpAddr>()
        .map_or(true, |ip| !ip.is_unspecified());
    if specific && !names.iter().any(|n| n == listen_host) {
        names.push(listen_host.to_owned());
    }
    names
}

/// "TLSv1.3, TLS13_AES_256_GCM_SHA384": what a handshake agreed on.
pub fn describe(conn: &rustls::CommonState) -> String {
    let version = conn
        .protocol_version()
        .map_or_else(|| "TLS".to_owned(), |v| format!("{v:?}").replace('_', "."));
    match conn.negotiated_cipher_suite() {
        Some(suite) => format!("{version}, {:?}", suite.suite()),
        None => version,
    }
}

fn load_roots(path: &Path) -> Result<rustls::RootCertStore, Error> {
    let error =
        |reason: String| Error::Tls(format!("cannot use --ca {}: {reason}", path.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| error(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(error("no usable certificate in the file".to_owned()));
    }
    Ok(roots)
}

/// `--insecure`: any certificate passes, but handshake signatures are still
/// checked with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_names_cover_loopback_and_a_specific_listen_address() {
        assert_eq!(
            self_signed_names("0.0.0.0"),
            ["localhost", "127.0.0.1", "::1"]
        );
        assert_eq!(
            self_signed_names("127.0.0.1"),
            ["localhost", "127.0.0.1", "::1"]
        );
        assert_eq!(
            self_signed_names("192.0.2.7"),
            ["localhost", "127.0.0.1", "::1", "192.0.2.7"]
        );
        assert_eq!(
            self_signed_names("shop.example"),
            ["localhost", "127.0.0.1", "::1", "shop.example"]
        );
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error() {
        let err = TlsClient::new(Trust::CaFile("/nonexistent/ca.pem".into()), None)
            .expect_err("missing file");
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        assert_eq!(err.exit_code(), 1);
    }

    #[test]
    fn a_missing_certificate_file_is_a_clear_error() {
        let err = TlsServer::from_files(Path::new("/nonexistent/cert.pem"), Path::new("k"))
            .expect_err("missing file");
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    }
}
