//! The daily allowance of verification-code mails (hostile.md L3): a subscribe and
//! unsubscribe loop would otherwise mail codes to any address without end. Each code mail
//! takes one from the allowance of its address (`digest.max_code_mails_per_address`,
//! whoever asks) and one from the user's (`digest.max_code_mails_per_user`), for the UTC
//! day. The counts are kept in the store (a restart does not reset them) and expire two
//! days later. A mail the relay then refuses still counts: the allowance bounds attempts.

use super::Digests;
use std::time::Duration;
use switchboard_bridge::BridgeError;

/// How long a day's count is kept (past the end of its day, whatever the time zone).
const KEEP: Duration = Duration::from_secs(2 * 86_400);

/// Store key of a day's count for an address.
fn address_key(address: &str, day: &str) -> String {
    format!("codemails:address:{day}:{}", address.to_ascii_lowercase())
}

/// Store key of a day's count for a user.
fn owner_key(owner: &str, day: &str) -> String {
    format!("codemails:owner:{day}:{owner}")
}

impl Digests {
    /// Takes one code mail from today's allowance of `address` and of `owner`, or refuses
    /// (`LimitReached`, which the user sees as `policy-violation`) once either is spent.
    pub(super) async fn take_code_mail(
        &self,
        owner: &str,
        address: &str,
    ) -> Result<(), BridgeError> {
        let day = self.clock.now().format("%Y-%m-%d").to_string();
        let store = &self.shared.network()?.store;
        let limits = &self.shared.config.digest;
        let keys = [address_key(address, &day), owner_key(owner, &day)];
        // Read and written under the lock every change to digests takes.
        let _writes = self.writes.lock().await;
        let mut counts = [0u32; 2];
        for (count, key) in counts.iter_mut().zip(&keys) {
            *count = store
                .get(key)
                .await?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        }
        if counts[0] >= limits.max_code_mails_per_address {
            tracing::info!(
                owner,
                "Code mail refused: the address had its allowance today"
            );
            return Err(BridgeError::LimitReached(format!(
                "{} verification codes were mailed to {address} today (UTC), the most it \
                 gets in a day; use the code already sent, or try again tomorrow",
                limits.max_code_mails_per_address
            )));
        }
        if counts[1] >= limits.max_code_mails_per_user {
            tracing::info!(
                owner,
                "Code mail refused: the user had their allowance today"
            );
            return Err(BridgeError::LimitReached(format!(
                "you had {} verification codes mailed today (UTC), the most in a day; try \
                 again tomorrow",
                limits.max_code_mails_per_user
            )));
        }
        for (count, key) in counts.iter().zip(&keys) {
            store.put(key, &(count + 1).to_string(), Some(KEEP)).await?;
        }
        Ok(())
    }
}
