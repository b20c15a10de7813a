//! TLS for listeners: a certificate chain and key from PEM files, served with
//! rustls (ring provider, TLS 1.2 and 1.3, safe defaults).
//!
//! The chat listeners (JSON and IRC) also *ask* for a client certificate,
//! as IRC servers do for `SASL EXTERNAL` (ergo, InspIRCd): a client without
//! one connects as before; a client with any certificate, self-signed ones
//! included (the IRC norm: nobody's certificate authority vouches for a
//! nickname), is accepted once it proved it holds the certificate's key
//! (the handshake signature is verified as usual). Nothing is trusted
//! from the certificate but its fingerprint ([`fingerprint`]), which an
//! account must have listed beforehand. The request carries no list of
//! acceptable authorities, so clients with no certificate configured say
//! nothing. The HTTPS listener does not ask at all ([`ClientCerts::Ignored`]):
//! a browser with certificates installed (a smart card, a company's) would
//! otherwise show its user a picker on every visit, for nothing, since the
//! web client's sessions have no use for one.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use thiserror::Error;
use tokio_rustls::TlsAcceptor;

use crate::certfp::Fingerprint;

/// Why TLS could not be set up.
#[derive(Debug, Error)]
pub enum TlsError {
    /// The certificate file could not be read or parsed.
    #[error("cannot read the certificate {path}: {reason}")]
    Certificate {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The key file could not be read or parsed.
    #[error("cannot read the private key {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("unusable certificate and key: {0}")]
    Config(#[from] rustls::Error),
}

/// Whether a listener asks its clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCerts {
    /// Asked for, never required: any certificate is taken, and its
    /// fingerprint is the session's (the JSON and IRC listeners).
    Requested,
    /// Not asked for (the HTTPS listener: see the module's documentation).
    Ignored,
}

/// A TLS acceptor for the certificate chain in `cert` and the key in `key`
/// (both PEM), asking clients for a certificate or not.
pub fn acceptor(cert: &Path, key: &Path, clients: ClientCerts) -> Result<TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Certificate {
            path: cert.display().to_string(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Certificate {
            path: cert.display().to_string(),
            reason: "no certificate in the file".to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.display().to_string(),
        reason: e.to_string(),
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let algorithms = provider.signature_verification_algorithms;
    let builder = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?;
    let builder = match clients {
        ClientCerts::Requested => {
            builder.with_client_cert_verifier(Arc::new(AnyClientCert { algorithms }))
        }
        ClientCerts::Ignored => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The fingerprint of the certificate the client presented in the
/// handshake of `connection`, if it presented one.
pub fn fingerprint(connection: &rustls::ServerConnection) -> Option<Fingerprint> {
    let end_entity = connection.peer_certificates()?.first()?;
    Some(Fingerprint::of_certificate(end_entity))
}

/// Takes any client certificate, self-signed included, and none: only its
/// fingerprint will be trusted, for what an account says it may do. The
/// handshake signature is still checked against the certificate's key, so
/// the client holds that key.
#[derive(Debug)]
struct AnyClientCert {
    /// The provider's signature algorithms.
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
