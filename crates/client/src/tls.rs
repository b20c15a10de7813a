//! TLS for clients: which certificates to trust when connecting with `--tls`.
//!
//! By default the server's certificate must chain to a well-known public
//! authority (Mozilla's list, built in). `--ca FILE` trusts the certificates
//! in that file instead (a self-signed certificate from `chatroom cert`, or a
//! private authority). `--insecure` accepts any certificate: the connection
//! is encrypted but the server is not authenticated, for tests only.
//!
//! `--cert FILE` presents a client certificate of one's own: an account
//! that lists it (`/cert add`) logs in by it, without a password.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use thiserror::Error;

/// How a client checks the server's certificate.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Well-known public authorities.
    Public,
    /// The certificates in this PEM file.
    CaFile(std::path::PathBuf),
    /// Anything (encryption without authentication).
    Insecure,
}

/// A client certificate to present, and its private key (PEM files; one
/// file may hold both, as irssi's and WeeChat's do).
#[derive(Debug, Clone)]
pub struct ClientCert {
    /// The certificate (and any chain after it).
    pub cert: PathBuf,
    /// The private key; `None`: in the certificate's file.
    pub key: Option<PathBuf>,
}

/// Why TLS could not be set up.
#[derive(Debug, Error)]
pub enum TlsError {
    /// The client certificate or its key could not be read.
    #[error("cannot use the client certificate {path}: {reason}")]
    ClientCert {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The CA file could not be read or holds no usable certificate.
    #[error("cannot use the CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS setup failed: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A ready TLS client configuration; cheap to clone.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsClient")
    }
}

impl TlsClient {
    /// A client configuration trusting `trust`, presenting `identity` if
    /// given.
    pub fn new(trust: &Trust, identity: Option<&ClientCert>) -> Result<TlsClient, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = match trust {
            Trust::Public => {
                let roots = rustls::RootCertStore::from_iter(
                    webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
                );
                builder.with_root_certificates(roots)
            }
            Trust::CaFile(path) => builder.with_root_certificates(load_roots(path)?),
            Trust::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider))),
        };
        let config = match identity {
            Some(identity) => {
                let (certs, key) = load_identity(identity)?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| TlsError::ClientCert {
                        path: identity.cert.display().to_string(),
                        reason: e.to_string(),
                    })?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(TlsClient {
            config: Arc::new(config),
        })
    }

    /// A connector for one connection.
    pub(crate) fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(self.config.clone())
    }
}

/// The certificates and the private key of `identity`.
fn load_identity(
    identity: &ClientCert,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let error = |path: &Path, reason: String| TlsError::ClientCert {
        path: path.display().to_string(),
        reason,
    };
    let certs = pem_certs(&identity.cert).map_err(|e| error(&identity.cert, e))?;
    if certs.is_empty() {
        return Err(error(
            &identity.cert,
            "no certificate in the file".to_owned(),
        ));
    }
    let key_file = identity.key.as_deref().unwrap_or(&identity.cert);
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| error(key_file, format!("no usable private key in the file ({e})")))?;
    Ok((certs, key))
}

/// Every certificate in the PEM file at `path`; why not, as text.
fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| e.to_string())
}

fn load_roots(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let error = |reason: String| TlsError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let certs = pem_certs(path).map_err(error)?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(error("no usable certificate in the file".to_owned()));
    }
    Ok(roots)
}

/// The name to check the certificate against: the host part of `HOST:PORT`.
pub(crate) fn server_name(address: &str) -> std::io::Result<ServerName<'static>> {
    let host = match address.rsplit_once(':') {
        Some((host, _port)) => host.trim_start_matches('[').trim_end_matches(']'),
        None => address,
    };
    ServerName::try_from(host.to_owned()).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("bad server name {host:?}: {e}"),
        )
    })
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
    fn server_names_from_addresses() {
        assert!(matches!(
            server_name("localhost:8000").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(matches!(
            server_name("127.0.0.1:8000").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:8000").unwrap(),
            ServerName::IpAddress(_)
        ));
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error() {
        let e = TlsClient::new(&Trust::CaFile("/nonexistent/ca.pem".into()), None).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }
}
