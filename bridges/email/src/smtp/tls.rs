//! A rustls server configuration for STARTTLS from PEM files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate or key could not be used.
#[derive(Debug, Error)]
pub enum TlsConfigError {
    /// A file could not be read or holds no valid PEM section of the kind needed.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the certificate chain or key (e.g. they do not match).
    #[error("certificate or key refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Builds the server configuration from a PEM certificate chain (leaf first) and a PEM
/// private key (PKCS#8, PKCS#1 or SEC1). TLS 1.2 and 1.3 with the ring provider, chosen
/// explicitly so that no process-wide default provider is needed.
pub fn load_tls_config(
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    let pem_error = |path: &Path, reason: String| TlsConfigError::Pem {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| pem_error(cert_path, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(cert_path, e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_error(cert_path, "no CERTIFICATE section".into()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key_path).map_err(|e| pem_error(key_path, e.to_string()))?;
    tls_config(certs, key)
}

/// Builds the server configuration from certificates and a key already in memory.
pub fn tls_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_files_are_named() {
        let dir = std::env::temp_dir().join(format!("sb-smtp-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = load_tls_config(&dir.join("missing.pem"), &empty).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
        let err = load_tls_config(&empty, &empty).unwrap_err();
        assert!(err.to_string().contains("no CERTIFICATE"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
