//! Semantic checks on a parsed configuration; every problem is reported, not just the first.

use super::{Config, Problem};
use jid::BareJid;
use std::collections::HashMap;
use std::net::SocketAddr;

pub(super) fn validate(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, key: &str, message: String| {
        if !ok {
            problems.push(Problem::new(key, message));
        }
    };

    let server = &config.xmpp.server;
    check(
        host_port(server),
        "xmpp.server",
        format!("'{server}' is not host:port (the XMPP server's component port)"),
    );
    check(
        !config.xmpp.allow.is_empty(),
        "xmpp.allow",
        "empty: nobody could use the gateway (list domains or JIDs, or \"*\" for everyone)".into(),
    );
    for (i, entry) in config.xmpp.allow.iter().enumerate() {
        check(
            entry == "*" || BareJid::new(entry).is_ok_and(|j| j.resource().is_none()),
            &format!("xmpp.allow[{i}]"),
            format!("'{entry}' is not a domain, a bare JID or \"*\""),
        );
    }
    for (i, entry) in config.xmpp.admins.iter().enumerate() {
        check(
            BareJid::new(entry).is_ok_and(|j| j.node().is_some()),
            &format!("xmpp.admins[{i}]"),
            format!("'{entry}' is not a bare JID like admin@example.org"),
        );
    }
    check(
        config.xmpp.link_queue > 0,
        "xmpp.link_queue",
        "must be at least 1".into(),
    );
    check(
        config.xmpp.user_queue > 0,
        "xmpp.user_queue",
        "must be at least 1".into(),
    );
    check(
        !config.xmpp.keepalive.0.is_zero(),
        "xmpp.keepalive",
        "must be longer than 0s".into(),
    );

    let storage = &config.storage;
    if storage.starts_with("postgres://") || storage.starts_with("postgresql://") {
        check(
            false,
            "storage",
            "PostgreSQL is not supported by this build yet; use sqlite://FILE".into(),
        );
    } else {
        check(
            storage
                .strip_prefix("sqlite://")
                .is_some_and(|p| !p.is_empty()),
            "storage",
            format!("'{storage}' is not sqlite://FILE (or sqlite://:memory:)"),
        );
    }

    if let Some(secret) = &config.storage_secret {
        check(
            secret.expose().chars().count() >= 16,
            "storage_secret",
            "must be at least 16 characters".into(),
        );
    }

    if let Some(http) = &config.http {
        check(
            http.listen.parse::<SocketAddr>().is_ok(),
            "http.listen",
            format!("'{}' is not ip:port", http.listen),
        );
        check(
            http.max_connections_per_ip > 0,
            "http.max_connections_per_ip",
            "must be at least 1".into(),
        );
        check(
            !http.body_timeout.0.is_zero(),
            "http.body_timeout",
            "must be longer than 0s".into(),
        );
        check(
            http.metrics_token
                .as_ref()
                .is_none_or(|t| t.expose().len() >= 16),
            "http.metrics_token",
            "too short: use at least 16 characters (e.g. `openssl rand -hex 16`)".into(),
        );
        if let Some(url) = &http.public_url {
            check(
                (url.starts_with("http://") || url.starts_with("https://"))
                    && url.len() > "https://".len(),
                "http.public_url",
                format!("'{url}' is not an http:// or https:// URL"),
            );
        }
    }

    if config.sms.is_some() {
        check(
            config.http.is_some(),
            "sms",
            "needs the `http` section: replies and delivery reports arrive as webhooks on http.listen".into(),
        );
    }

    if config.email.is_some() {
        check(
            config.http.is_some(),
            "email",
            "needs the `http` section: digest mails carry one-click unsubscribe links to http.public_url".into(),
        );
    }

    let transports = config.transports();
    check(
        !transports.is_empty(),
        "",
        "no transport is configured (add an `irc`, `sms`, `email` or `echo` section)".into(),
    );
    let mut seen: HashMap<String, &str> = HashMap::new();
    for t in &transports {
        let domain = &t.link.domain;
        let valid = BareJid::new(domain).is_ok_and(|j| j.node().is_none()) && domain.contains('.');
        check(
            valid,
            &format!("{}.domain", t.key),
            format!("'{domain}' is not a domain name like {}.example.org", t.key),
        );
        if let Some(other) = seen.insert(domain.to_lowercase(), t.key) {
            check(
                false,
                &format!("{}.domain", t.key),
                format!("'{domain}' is already the domain of `{other}`"),
            );
        }
        check(
            !t.link.secret.expose().is_empty(),
            &format!("{}.secret", t.key),
            "must not be empty".into(),
        );
    }
    problems
}

fn host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => false,
    }
}
