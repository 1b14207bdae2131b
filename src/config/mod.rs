//! Typed configuration: the YAML file an operator writes.
//!
//! Loading has three steps, each of which reports every problem it finds with the key path
//! and the file: `${VAR}` expansion from the environment ([`expand`]), typed parsing with
//! unknown keys refused (this module), and semantic checks ([`validate`]).

mod duration;
mod expand;
mod history;
mod validate;

pub use duration::ConfigDuration;
pub use history::{HistoryConfig, MAX_ON_JOIN};

use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How the gateway reaches the XMPP server and who may use it.
    pub xmpp: XmppConfig,
    /// Where state lives: `sqlite://relative/or/absolute.db` (relative to the working
    /// directory; `sqlite:///abs/path.db` for an absolute path).
    pub storage: String,
    /// The secret that seals passwords kept in the store (IRC SASL and NickServ passwords),
    /// so a copy of the database alone does not reveal them. Absent: each transport's
    /// component secret. Changing it (or, without it, a component secret) makes the sealed
    /// passwords unreadable: they are dropped and users enter them again. At least 16
    /// characters; use `${VAR}`.
    #[serde(default)]
    pub storage_secret: Option<Secret>,
    /// The HTTP listener (health, metrics, webhooks). Absent: no listener.
    #[serde(default)]
    pub http: Option<HttpConfig>,
    /// The echo transport: a test network that answers every message with its text.
    /// For trying the gateway end to end; not meant for production.
    #[serde(default)]
    pub echo: Option<TransportConfig>,
    /// The IRC transport: `domain` and `secret`, plus the IRC bridge's own keys
    /// (`switchboard_irc::IrcConfig`). Read apart from the rest (see [`Config::parse`]).
    #[serde(skip)]
    pub irc: Option<BridgeSection<switchboard_irc::IrcConfig>>,
    /// The SMS transport: `domain` and `secret`, plus the SMS bridge's own keys
    /// (`switchboard_sms::SmsConfig`). Read like `irc`.
    #[serde(skip)]
    pub sms: Option<BridgeSection<switchboard_sms::SmsConfig>>,
    /// The email transport: `domain` and `secret`, plus the email bridge's own keys
    /// (`switchboard_email::config::EmailConfig`). Read like `irc`.
    #[serde(skip)]
    pub email: Option<BridgeSection<switchboard_email::config::EmailConfig>>,
}

/// A transport section whose keys beyond `domain` and `secret` belong to its bridge.
#[derive(Clone, Debug)]
pub struct BridgeSection<C> {
    /// Domain and secret.
    pub link: TransportConfig,
    /// The bridge's own settings.
    pub bridge: C,
    /// The room archive (`history`; only `irc` has it, others keep the default unused).
    pub history: HistoryConfig,
}

/// The XMPP side.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmppConfig {
    /// The XMPP server's component port (XEP-0114), `host:port`.
    pub server: String,
    /// XMPP domains (`example.org`) or bare JIDs (`alice@example.org`) that may use the
    /// gateway; `"*"` allows everyone. Anyone else gets `<forbidden/>`.
    pub allow: Vec<String>,
    /// Bare JIDs that may run admin commands.
    #[serde(default)]
    pub admins: Vec<String>,
    /// Stanzas waiting per transport for its link to the server (while it is down, or
    /// slower than the foreign networks); past this, bridges wait and a user's new message
    /// gets `<resource-constraint/>` while the link is down. Default 1000.
    #[serde(default = "default_link_queue")]
    pub link_queue: usize,
    /// Messages per user waiting for the foreign network; past this the user gets
    /// `<resource-constraint/>`. Default 50000.
    #[serde(default = "default_user_queue")]
    pub user_queue: usize,
    /// How often the gateway pings the server over a quiet link. Default `30s`.
    #[serde(default = "default_keepalive")]
    pub keepalive: ConfigDuration,
}

fn default_link_queue() -> usize {
    1_000
}
fn default_user_queue() -> usize {
    50_000
}
fn default_keepalive() -> ConfigDuration {
    ConfigDuration::from_secs(30)
}

/// The HTTP listener.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on, `ip:port`.
    pub listen: String,
    /// How providers reach `listen` from outside (`https://gw.example.org`); webhook
    /// signatures and links in mail use it. Defaults to `http://<listen>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Connections one client IP address may hold at once (on top of the listener's
    /// 256); one more from that address is closed at once.
    #[serde(default = "default_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// How long a request body may take to arrive once its headers are in; a slower one
    /// gets 408 and the connection is closed.
    #[serde(default = "default_body_timeout")]
    pub body_timeout: ConfigDuration,
    /// When set, `/metrics` and `/healthz` answer only requests carrying it, as
    /// `Authorization: Bearer <token>` or `?token=<token>` (others get 401). Unset, they
    /// are open.
    #[serde(default)]
    pub metrics_token: Option<Secret>,
}

fn default_max_connections_per_ip() -> usize {
    32
}
fn default_body_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(15)
}

/// What every transport section has: its component domain and secret.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransportConfig {
    /// The component's domain, as declared in the XMPP server (`irc.example.org`).
    pub domain: String,
    /// The component secret shared with the XMPP server. Use `${VAR}` to read it from the
    /// environment.
    pub secret: Secret,
}

/// A secret string; its `Debug` never shows the value.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// Problems, each with its key path (`xmpp.allow[0]`; empty for the whole file).
    pub problems: Vec<Problem>,
}

/// One problem at one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `echo.secret`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl ConfigError {
    fn render(&self) -> String {
        self.problems
            .iter()
            .map(|p| {
                if p.key.is_empty() {
                    format!("{}: {}", self.file.display(), p.message)
                } else {
                    format!("{}: {}: {}", self.file.display(), p.key, p.message)
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A transport the configuration enables, with its bridge's own section.
#[derive(Clone, Debug)]
pub struct EnabledTransport {
    /// The config key (`echo`, later `irc`, `sms`, `email`).
    pub key: &'static str,
    /// Domain and secret.
    pub link: TransportConfig,
}

impl Config {
    /// Reads, expands and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            problems: vec![Problem::new("", format!("cannot read the file: {e}"))],
        })?;
        Self::parse(path, &text, &|name| std::env::var(name).ok())
    }

    /// Parses configuration text; `env` looks up `${VAR}` references.
    pub fn parse(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let fail = |problems| ConfigError {
            file: path.to_path_buf(),
            problems,
        };
        let mut value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
            .map_err(|e| fail(vec![Problem::new("", format!("not valid YAML: {e}"))]))?;
        let mut problems = Vec::new();
        expand::expand(&mut value, "", env, &mut problems);
        let irc =
            take_section::<switchboard_irc::IrcConfig>(&mut value, "irc", true, &mut problems);
        let sms =
            take_section::<switchboard_sms::SmsConfig>(&mut value, "sms", false, &mut problems);
        let email = take_section::<switchboard_email::config::EmailConfig>(
            &mut value,
            "email",
            false,
            &mut problems,
        );
        let config: Config = match serde_path_to_error::deserialize(value) {
            Ok(config) => config,
            Err(e) => {
                let key = e.path().to_string();
                let key = if key == "." { String::new() } else { key };
                problems.push(Problem::new(key, e.into_inner().to_string()));
                return Err(fail(problems));
            }
        };
        let mut config = config;
        config.irc = irc;
        config.sms = sms;
        config.email = email;
        if let Some(email) = &mut config.email {
            for (key, message) in email.bridge.problems() {
                problems.push(Problem::new(format!("email.{key}"), message));
            }
            // Like SMS owners: checked and normalised here, compared as strings later.
            if let Some(postmaster) = email.bridge.postmaster.as_mut() {
                match xmpp_parsers::jid::BareJid::new(postmaster.trim()) {
                    Ok(jid) => *postmaster = jid.to_string(),
                    Err(e) => problems.push(Problem::new(
                        "email.postmaster".to_string(),
                        format!("'{postmaster}' is not a bare JID: {e}"),
                    )),
                }
            }
        }
        if let Some(irc) = &config.irc {
            for (key, message) in irc.bridge.problems() {
                problems.push(Problem::new(format!("irc.{key}"), message));
            }
        }
        if let Some(sms) = &mut config.sms {
            for (key, message) in sms.bridge.problems() {
                problems.push(Problem::new(format!("sms.{key}"), message));
            }
            // Owners are JIDs: checked and normalised here, so the bridge compares them
            // as plain strings with what the core hands it.
            for (number, owner) in sms.bridge.numbers.iter_mut() {
                match xmpp_parsers::jid::BareJid::new(owner.trim()) {
                    Ok(jid) => *owner = jid.to_string(),
                    Err(e) => problems.push(Problem::new(
                        format!("sms.numbers.{number}"),
                        format!("'{owner}' is not a bare JID: {e}"),
                    )),
                }
            }
        }
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        problems.extend(validate::validate(&config));
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(fail(problems))
        }
    }

    /// The transports this configuration enables.
    pub fn transports(&self) -> Vec<EnabledTransport> {
        let mut out = Vec::new();
        if let Some(irc) = &self.irc {
            out.push(EnabledTransport {
                key: "irc",
                link: irc.link.clone(),
            });
        }
        if let Some(sms) = &self.sms {
            out.push(EnabledTransport {
                key: "sms",
                link: sms.link.clone(),
            });
        }
        if let Some(email) = &self.email {
            out.push(EnabledTransport {
                key: "email",
                link: email.link.clone(),
            });
        }
        if let Some(echo) = &self.echo {
            out.push(EnabledTransport {
                key: "echo",
                link: echo.clone(),
            });
        }
        out
    }

    /// The SQLite file named by `storage`, or `None` for an in-memory database.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.storage.strip_prefix("sqlite://")?;
        if rest == ":memory:" {
            None
        } else {
            Some(PathBuf::from(rest))
        }
    }
}

/// Takes a bridge section out of the document: `domain` and `secret` parse as the link,
/// the rest as the bridge's own config (unknown keys refused, with `key.` paths).
fn take_section<C: serde::de::DeserializeOwned>(
    doc: &mut serde_yaml_ng::Value,
    key: &str,
    with_history: bool,
    problems: &mut Vec<Problem>,
) -> Option<BridgeSection<C>> {
    let section = doc.as_mapping_mut()?.remove(key)?;
    let serde_yaml_ng::Value::Mapping(mut rest) = section else {
        problems.push(Problem::new(
            key,
            "must be a mapping with domain, secret and the bridge's keys",
        ));
        return None;
    };
    let mut link = serde_yaml_ng::Mapping::new();
    for field in ["domain", "secret"] {
        if let Some(v) = rest.remove(field) {
            link.insert(field.into(), v);
        }
    }
    let asked = if with_history {
        rest.remove("history")
    } else {
        None
    };
    let history = match asked {
        None => HistoryConfig::default(),
        Some(v) => match serde_path_to_error::deserialize::<_, HistoryConfig>(v) {
            Ok(h) => {
                for (k, message) in h.problems() {
                    problems.push(Problem::new(format!("{key}.history.{k}"), message));
                }
                h
            }
            Err(e) => {
                let path = e.path().to_string();
                let at = if path == "." {
                    format!("{key}.history")
                } else {
                    format!("{key}.history.{path}")
                };
                problems.push(Problem::new(at, e.inner().to_string()));
                HistoryConfig::default()
            }
        },
    };
    let link: Result<TransportConfig, _> =
        serde_path_to_error::deserialize(serde_yaml_ng::Value::Mapping(link));
    let bridge: Result<C, _> =
        serde_path_to_error::deserialize(serde_yaml_ng::Value::Mapping(rest));
    let at = |e: &serde_path_to_error::Error<serde_yaml_ng::Error>| {
        let path = e.path().to_string();
        if path == "." {
            key.to_string()
        } else {
            format!("{key}.{path}")
        }
    };
    match (link, bridge) {
        (Ok(link), Ok(bridge)) => {
            return Some(BridgeSection {
                link,
                bridge,
                history,
            })
        }
        (Err(e), _) => problems.push(Problem::new(at(&e), e.inner().to_string())),
        (_, Err(e)) => problems.push(Problem::new(at(&e), e.inner().to_string())),
    }
    None
}

#[cfg(test)]
mod tests;
