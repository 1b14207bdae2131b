//! Sealing secrets kept in the store (IRC SASL and NickServ passwords, any secret a bridge's
//! settings form asks for), so that a copy of the database alone does not give them away.
//!
//! A value is sealed with ChaCha20-Poly1305 under a key derived (HKDF-SHA256) from a secret
//! that lives in the configuration, never in the database: `storage_secret` when set, else
//! the transport's component secret. The key is also bound to the transport domain, and each
//! value to where it is kept (the associated data names the login, the settings key and the
//! field), so a sealed value copied into another user's row does not open.
//!
//! Sealed text: `sealed:v1:` then hex of the 12-byte nonce and the ciphertext with its tag.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;

/// What marks a sealed value.
const PREFIX: &str = "sealed:v1:";
/// HKDF salt: names the scheme, so other uses of the same secret get other keys.
const SALT: &[u8] = b"switchboard store seal v1";

/// Why a stored value did not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The value carries the seal prefix but is not valid hex of a nonce and ciphertext.
    #[error("the sealed value is malformed")]
    Malformed,
    /// Authentication failed: sealed under another key (the secret changed) or for another
    /// place, or altered.
    #[error("the sealed value does not open with this key (was the secret changed?)")]
    WrongKey,
    /// The opened bytes are not UTF-8.
    #[error("the sealed value is not text")]
    NotText,
}

/// Seals and opens stored secrets of one transport.
pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(…)")
    }
}

impl Sealer {
    /// The sealer of `domain`, keyed by `secret` (from the configuration).
    pub fn new(secret: &str, domain: &str) -> Self {
        let prk = Salt::new(HKDF_SHA256, SALT).extract(secret.as_bytes());
        let info = [domain.as_bytes()];
        let okm = prk
            .expand(&info, &CHACHA20_POLY1305)
            .expect("one key length is a valid HKDF output");
        let key = UnboundKey::from(okm);
        Self {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        }
    }

    /// Whether a stored value is sealed (else it is plain text from before sealing).
    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(PREFIX)
    }

    /// Seals `plain` for the place named by `context`.
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system random source works");
        let mut data = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .expect("ChaCha20-Poly1305 seals any length we store");
        let mut out = String::with_capacity(PREFIX.len() + 2 * (NONCE_LEN + data.len()));
        out.push_str(PREFIX);
        hex_into(&nonce, &mut out);
        hex_into(&data, &mut out);
        out
    }

    /// Opens a value sealed for `context`. A value without the seal prefix is returned as
    /// it is (written before sealing existed; the caller seals it again).
    pub fn open(&self, stored: &str, context: &str) -> Result<String, SealError> {
        let Some(hex) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let mut bytes = unhex(hex).ok_or(SealError::Malformed)?;
        if bytes.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return Err(SealError::Malformed);
        }
        let mut ciphertext = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| SealError::Malformed)?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut ciphertext)
            .map_err(|_| SealError::WrongKey)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::NotText)
    }
}

fn hex_into(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let raw = text.as_bytes();
    if !raw.len().is_multiple_of(2) {
        return None;
    }
    raw.chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_the_same_key_and_place() {
        let sealer = Sealer::new("component secret", "irc.localhost");
        let sealed = sealer.seal("hunter2", "l1:command:configure:local:sasl_password");
        assert!(Sealer::is_sealed(&sealed));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            sealer.open(&sealed, "l1:command:configure:local:sasl_password"),
            Ok("hunter2".into())
        );
    }

    #[test]
    fn the_same_value_seals_differently_each_time() {
        let sealer = Sealer::new("s", "irc.localhost");
        assert_ne!(sealer.seal("pw", "c"), sealer.seal("pw", "c"));
    }

    #[test]
    fn another_secret_or_domain_does_not_open_it() {
        let sealed = Sealer::new("one", "irc.localhost").seal("pw", "c");
        assert_eq!(
            Sealer::new("two", "irc.localhost").open(&sealed, "c"),
            Err(SealError::WrongKey)
        );
        assert_eq!(
            Sealer::new("one", "sms.localhost").open(&sealed, "c"),
            Err(SealError::WrongKey)
        );
    }

    #[test]
    fn a_value_moved_to_another_place_does_not_open() {
        let sealer = Sealer::new("s", "irc.localhost");
        let sealed = sealer.seal("pw", "alice:command:configure:libera:sasl_password");
        assert_eq!(
            sealer.open(&sealed, "mallory:command:configure:libera:sasl_password"),
            Err(SealError::WrongKey)
        );
    }

    #[test]
    fn altered_or_malformed_values_are_refused() {
        let sealer = Sealer::new("s", "d");
        let sealed = sealer.seal("pw", "c");
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(sealer.open(&flipped, "c"), Err(SealError::WrongKey));
        assert_eq!(sealer.open("sealed:v1:zz", "c"), Err(SealError::Malformed));
        assert_eq!(sealer.open("sealed:v1:abc", "c"), Err(SealError::Malformed));
        assert_eq!(
            sealer.open("sealed:v1:00ff", "c"),
            Err(SealError::Malformed)
        );
    }

    #[test]
    fn plain_values_from_before_sealing_are_read_as_they_are() {
        let sealer = Sealer::new("s", "d");
        assert!(!Sealer::is_sealed("hunter2"));
        assert_eq!(sealer.open("hunter2", "c"), Ok("hunter2".into()));
    }
}
