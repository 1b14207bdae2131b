//! The `sms` section of the configuration (besides the component `domain` and `secret`,
//! which the core reads).

use crate::number;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// SMS bridge settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// The provider that sends and receives the texts.
    pub provider: ProviderConfig,
    /// Phone numbers (E.164) assigned to XMPP users (bare JIDs): a user sends from their
    /// number, and texts to it reach them. Admins can assign more at run time.
    #[serde(default)]
    pub numbers: BTreeMap<String, String>,
    /// ISO 3166-1 region for numbers written without a country code (`US`, `GB`).
    /// Unset: every number must start with `+` (or `00`).
    #[serde(default)]
    pub default_region: Option<String>,
    /// Longest message, in SMS segments (160/153 GSM-7 characters or 70/67 UCS-2 units
    /// each). Default 10.
    #[serde(default = "default_max_segments")]
    pub max_segments: usize,
    /// Messages one user may send per minute. Default 30.
    #[serde(default = "default_rate")]
    pub rate_per_minute: u32,
    /// Messages one user may send per day (UTC). Default 500.
    #[serde(default = "default_daily_cap")]
    pub daily_cap: u32,
    /// How long one provider request may take before it counts as failed (and is
    /// retried). Default `30s`.
    #[serde(
        default = "default_timeout",
        deserialize_with = "switchboard_bridge::config::duration"
    )]
    pub request_timeout: Duration,
}

/// Which provider, with its credentials.
#[derive(Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProviderConfig {
    /// Twilio's Messages API, or a compatible one (SignalWire LaML, …).
    Twilio {
        /// Account SID (`AC…`): the user name of the API and part of its paths.
        account_sid: String,
        /// Auth token: the API password and the key of webhook signatures.
        auth_token: String,
        /// Base URL of the API. Default `https://api.twilio.com`.
        #[serde(default = "default_twilio_base")]
        api_base: String,
    },
    /// Kannel's smsbox: sendsms out, sms-service and delivery reports in.
    Kannel {
        /// The sendsms URL (`http://127.0.0.1:13013/cgi-bin/sendsms`).
        sendsms_url: String,
        /// A `sendsms-user` of smsbox.
        username: String,
        /// Its password.
        password: String,
        /// The secret Kannel's `get-url`/`post-url` carries as `secret=` (and that the
        /// gateway puts in its delivery-report URLs).
        webhook_secret: String,
        /// The `smsc` to route through, when smsbox has several.
        #[serde(default)]
        smsc: Option<String>,
        /// Ask Kannel for delivery reports (receipts and late failures). Default true;
        /// false saves Kannel and the SMSC a report per message.
        #[serde(default = "yes")]
        delivery_reports: bool,
    },
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets never reach logs.
        match self {
            ProviderConfig::Twilio {
                account_sid,
                api_base,
                ..
            } => f
                .debug_struct("Twilio")
                .field("account_sid", account_sid)
                .field("api_base", api_base)
                .finish_non_exhaustive(),
            ProviderConfig::Kannel {
                sendsms_url,
                username,
                smsc,
                ..
            } => f
                .debug_struct("Kannel")
                .field("sendsms_url", sendsms_url)
                .field("username", username)
                .field("smsc", smsc)
                .finish_non_exhaustive(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_max_segments() -> usize {
    10
}
fn default_rate() -> u32 {
    30
}
fn default_daily_cap() -> u32 {
    500
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_twilio_base() -> String {
    "https://api.twilio.com".into()
}

impl SmsConfig {
    /// Problems serde cannot see, as (key below `sms.`, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let region = self.default_region.as_deref();
        if let Some(r) = region {
            if let Err(e) = number::normalize("+15551234567", Some(r)) {
                out.push(("default_region".into(), e.to_string()));
            }
        }
        for n in self.numbers.keys() {
            if let Err(e) = number::normalize(n, region) {
                out.push((format!("numbers.{n}"), e.to_string()));
            }
        }
        if self.max_segments == 0 || self.max_segments > 255 {
            out.push(("max_segments".into(), "must be between 1 and 255".into()));
        }
        if self.rate_per_minute == 0 {
            out.push(("rate_per_minute".into(), "must be at least 1".into()));
        }
        if self.daily_cap == 0 {
            out.push(("daily_cap".into(), "must be at least 1".into()));
        }
        if self.request_timeout.is_zero() {
            out.push(("request_timeout".into(), "must be longer than 0s".into()));
        }
        let url = |key: &str, v: &str, out: &mut Vec<(String, String)>| {
            if !(v.starts_with("http://") || v.starts_with("https://")) {
                out.push((
                    format!("provider.{key}"),
                    format!("'{v}' is not an http:// or https:// URL"),
                ));
            }
        };
        match &self.provider {
            ProviderConfig::Twilio {
                account_sid,
                auth_token,
                api_base,
            } => {
                url("api_base", api_base, &mut out);
                if account_sid.is_empty() || !account_sid.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    out.push((
                        "provider.account_sid".into(),
                        "must be the account SID (letters and digits, AC…)".into(),
                    ));
                }
                if auth_token.is_empty() {
                    out.push(("provider.auth_token".into(), "must not be empty".into()));
                }
            }
            ProviderConfig::Kannel {
                sendsms_url,
                webhook_secret,
                ..
            } => {
                url("sendsms_url", sendsms_url, &mut out);
                if webhook_secret.len() < 8 {
                    out.push((
                        "provider.webhook_secret".into(),
                        "must be at least 8 characters (it is all that authenticates Kannel)"
                            .into(),
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<SmsConfig, serde_yaml_ng::Error> {
        serde_yaml_ng::from_str(yaml)
    }

    #[test]
    fn parses_both_providers_with_defaults() {
        let c = parse(
            "provider: {kind: twilio, account_sid: AC1, auth_token: t}\nnumbers: {\"+15550001111\": a@x}\n",
        )
        .unwrap();
        assert_eq!(c.max_segments, 10);
        assert_eq!(c.daily_cap, 500);
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        assert!(
            !format!("{c:?}").contains("auth_token: \"t\""),
            "no secret in Debug"
        );
        let k = parse("provider: {kind: kannel, sendsms_url: 'http://127.0.0.1:13013/cgi-bin/sendsms', username: gw, password: p, webhook_secret: short}").unwrap();
        assert_eq!(k.problems()[0].0, "provider.webhook_secret");
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        assert!(
            parse("provider: {kind: twilio, account_sid: AC1, auth_token: t, colour: red}")
                .is_err()
        );
        assert!(parse("provider: {kind: nexmo}").is_err());
        let c = parse("provider: {kind: twilio, account_sid: AC1, auth_token: t, api_base: ftp://x}\nnumbers: {\"12\": a@x}\nmax_segments: 0\ndefault_region: ZZ").unwrap();
        let keys: Vec<String> = c.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "default_region",
                "numbers.12",
                "max_segments",
                "provider.api_base"
            ]
        );
    }
}
