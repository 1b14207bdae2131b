//! Whether an inbound mail's From address is vouched for (hostile.md M3): by a trusted
//! relay (its IP, and its `Authentication-Results` header when an authserv-id is
//! configured), or by the gateway's own DKIM, SPF and DMARC checks (Stalwart's
//! `mail-auth`, lookups through the configured DNS server). A From nobody vouches for is
//! unverified; what becomes of such mail is the listener's choice (`email.auth.unverified`).
//!
//! Bounded work: signatures with `l=` are not taken (strict parsing: a body length lets
//! anyone append text), at most [`MAX_SIGNATURES`] signatures are checked, and all lookups
//! for one mail share `email.auth.timeout`.

use crate::config::AuthConfig;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DkimResult, DmarcResult, MessageAuthenticator, SpfResult,
};
use std::net::IpAddr;
use std::time::Duration;

/// DKIM signatures looked at per mail (each costs a DNS lookup).
pub const MAX_SIGNATURES: usize = 5;

/// What vouched for a From, or why nothing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Vouched for; how (for the log).
    Verified(&'static str),
    /// Not vouched for; why (for the log and a refusal).
    Unverified(&'static str),
}

impl Verdict {
    /// Whether the From is believed.
    pub fn is_verified(&self) -> bool {
        matches!(self, Verdict::Verified(_))
    }
}

/// What the SMTP session knows about the mail besides its text.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The client's address.
    pub ip: IpAddr,
    /// What it said in EHLO/HELO.
    pub helo: String,
    /// The reverse-path (empty for bounces).
    pub mail_from: String,
    /// The From address the mail is shown under.
    pub from: String,
}

/// Checks senders, with the resolver made once at start.
pub struct Verifier {
    config: AuthConfig,
    /// Our own host name (for SPF macros).
    hostname: String,
    /// `None` when no DNS server could be set up: only trusted relays vouch then.
    dns: Option<MessageAuthenticator>,
}

impl Verifier {
    /// A verifier for `config`; the DNS server is `config.dns`, else the system's.
    pub fn new(config: &AuthConfig, hostname: &str) -> Self {
        let mut opts = ResolverOpts::default();
        opts.timeout = config.timeout.min(Duration::from_secs(5));
        opts.attempts = 1;
        let dns = match &config.dns {
            Some(addr) => addr.parse::<std::net::SocketAddr>().ok().and_then(|addr| {
                let servers =
                    NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
                let resolver = ResolverConfig::from_parts(None, vec![], servers);
                MessageAuthenticator::new(resolver, opts).ok()
            }),
            None => mail_auth::hickory_resolver::system_conf::read_system_conf()
                .ok()
                .and_then(|(resolver, _)| MessageAuthenticator::new(resolver, opts).ok()),
        };
        if dns.is_none() {
            tracing::warn!(
                "No DNS resolver for DKIM/SPF/DMARC: only trusted relays vouch for senders"
            );
        }
        Verifier {
            config: config.clone(),
            hostname: hostname.to_string(),
            dns,
        }
    }

    /// Whether the From of `raw` is vouched for.
    pub async fn check(&self, raw: &[u8], facts: &Facts) -> Verdict {
        let Some(message) = AuthenticatedMessage::parse_with_opts(raw, true) else {
            return Verdict::Unverified("the headers do not parse");
        };
        if message.from.len() != 1 || !message.from[0].eq_ignore_ascii_case(&facts.from) {
            return Verdict::Unverified("not exactly one From address");
        }
        let from_domain = domain_of(&facts.from).to_ascii_lowercase();
        if let Some(relay) = self.config.trusted_relays.iter().find(|r| r.ip == facts.ip) {
            match &relay.authserv_id {
                None => return Verdict::Verified("trusted relay"),
                Some(id) => {
                    if relay_vouches(&message.headers, id, &from_domain) {
                        return Verdict::Verified("trusted relay's Authentication-Results");
                    }
                }
            }
        }
        let Some(dns) = &self.dns else {
            return Verdict::Unverified("no DNS resolver for DKIM/SPF/DMARC");
        };
        match tokio::time::timeout(
            self.config.timeout,
            self.own_checks(dns, message, facts, &from_domain),
        )
        .await
        {
            Ok(verdict) => verdict,
            Err(_) => Verdict::Unverified("DKIM/SPF/DMARC lookups timed out"),
        }
    }

    async fn own_checks(
        &self,
        dns: &MessageAuthenticator,
        mut message: AuthenticatedMessage<'_>,
        facts: &Facts,
        from_domain: &str,
    ) -> Verdict {
        message.dkim_headers.truncate(MAX_SIGNATURES);
        let dkim: Vec<DkimOutput<'_>> = dns.verify_dkim(&message).await;
        let helo = if facts.helo.is_empty() {
            "unknown"
        } else {
            &facts.helo
        };
        let (spf, mail_from_domain) = if facts.mail_from.is_empty() {
            let params = SpfParameters::verify_ehlo(facts.ip, helo, &self.hostname);
            (dns.verify_spf(params).await, helo.to_ascii_lowercase())
        } else {
            let params =
                SpfParameters::verify_mail_from(facts.ip, helo, &self.hostname, &facts.mail_from);
            (
                dns.verify_spf(params).await,
                domain_of(&facts.mail_from).to_ascii_lowercase(),
            )
        };
        let dmarc = dns
            .verify_dmarc(DmarcParameters::new(
                &message,
                &dkim,
                &mail_from_domain,
                &spf,
            ))
            .await;
        if dmarc.dmarc_record().is_some() {
            if dmarc.dkim_result() == &DmarcResult::Pass {
                return Verdict::Verified("DMARC (DKIM aligned)");
            }
            if dmarc.spf_result() == &DmarcResult::Pass {
                return Verdict::Verified("DMARC (SPF aligned)");
            }
            return Verdict::Unverified("DMARC: no aligned DKIM or SPF pass");
        }
        // No DMARC record: only an exact match of the From domain counts.
        let dkim_exact = dkim.iter().any(|o| {
            o.result() == &DkimResult::Pass
                && o.signature()
                    .is_some_and(|s| s.d.eq_ignore_ascii_case(from_domain))
        });
        if dkim_exact {
            return Verdict::Verified("DKIM of the From domain");
        }
        if spf.result() == SpfResult::Pass && mail_from_domain == from_domain {
            return Verdict::Verified("SPF of the From domain");
        }
        Verdict::Unverified("no DKIM signature or SPF pass for the From domain")
    }
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, d)| d)
}

/// Whether the topmost `Authentication-Results` header with authserv-id `id` says
/// `dmarc=pass` for the From domain, or `dkim=pass` with `header.d` the From domain.
fn relay_vouches(headers: &[(&[u8], &[u8])], id: &str, from_domain: &str) -> bool {
    let Some(value) = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(b"Authentication-Results"))
        .map(|(_, value)| without_comments(&String::from_utf8_lossy(value)))
        .find(|value| {
            let first = value.split(';').next().unwrap_or("");
            first
                .split_whitespace()
                .next()
                .is_some_and(|s| s.eq_ignore_ascii_case(id))
        })
    else {
        return false;
    };
    value.split(';').skip(1).any(|result| {
        let mut words = result.split_whitespace();
        let Some((method, outcome)) = words.next().and_then(|w| w.split_once('=')) else {
            return false;
        };
        if !outcome.eq_ignore_ascii_case("pass") {
            return false;
        }
        let property = |key: &str| {
            result
                .split_whitespace()
                .filter_map(|w| w.split_once('='))
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.trim_matches('"').to_ascii_lowercase())
        };
        match method.to_ascii_lowercase().as_str() {
            "dmarc" => property("header.from").as_deref() == Some(from_domain),
            "dkim" => property("header.d").as_deref() == Some(from_domain),
            _ => false,
        }
    })
}

/// The text without `( … )` comments (nested ones too), on one line.
fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            c if depth == 0 => out.push(if c.is_whitespace() { ' ' } else { c }),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{TrustedRelay, Unverified};

    fn facts(ip: &str, from: &str) -> Facts {
        Facts {
            ip: ip.parse().unwrap(),
            helo: "client.test".into(),
            mail_from: from.into(),
            from: from.into(),
        }
    }

    fn verifier(relays: Vec<TrustedRelay>) -> Verifier {
        // A DNS server that answers nothing: port 9 on loopback (discard, closed).
        let config = AuthConfig {
            unverified: Unverified::Mark,
            trusted_relays: relays,
            dns: Some("127.0.0.1:9".into()),
            timeout: Duration::from_secs(2),
        };
        Verifier::new(&config, "mx.test")
    }

    const MAIL: &str = "Authentication-Results: evil.example; dmarc=pass header.from=example.org\r\n\
        Authentication-Results: mx.example.org (the relay);\r\n dkim=fail header.d=example.org;\r\n \
        dmarc=pass (p=reject) header.from=example.org\r\n\
        From: CEO <ceo@example.org>\r\nSubject: x\r\n\r\nwire money\r\n";

    #[tokio::test]
    async fn a_trusted_relay_vouches_with_its_own_results_only() {
        let relay = |id: Option<&str>| TrustedRelay {
            ip: "192.0.2.25".parse().unwrap(),
            authserv_id: id.map(str::to_string),
        };
        let from = facts("192.0.2.25", "ceo@example.org");
        let v = verifier(vec![relay(Some("mx.example.org"))]);
        assert!(v.check(MAIL.as_bytes(), &from).await.is_verified());
        // The same header from anyone else is worth nothing.
        let stranger = facts("198.51.100.7", "ceo@example.org");
        assert!(!v.check(MAIL.as_bytes(), &stranger).await.is_verified());
        // A results header of another authserv-id, or one that does not pass, is not taken.
        let other = verifier(vec![relay(Some("mx.other.example"))]);
        assert!(!other.check(MAIL.as_bytes(), &from).await.is_verified());
        let fail = MAIL.replace("dmarc=pass (p=reject)", "dmarc=fail");
        assert!(!v.check(fail.as_bytes(), &from).await.is_verified());
        let elsewhere = MAIL.replace(
            "(p=reject) header.from=example.org",
            "header.from=evil.example",
        );
        assert!(!v.check(elsewhere.as_bytes(), &from).await.is_verified());
        // Without an authserv-id the relay vouches for all it passes on.
        let all = verifier(vec![relay(None)]);
        assert_eq!(
            all.check(MAIL.as_bytes(), &from).await,
            Verdict::Verified("trusted relay")
        );
    }

    #[tokio::test]
    async fn odd_from_headers_are_never_verified() {
        let v = verifier(vec![TrustedRelay {
            ip: "192.0.2.25".parse().unwrap(),
            authserv_id: None,
        }]);
        let relay = facts("192.0.2.25", "ceo@example.org");
        let two = "From: a@example.org, b@evil.example\r\n\r\nx\r\n";
        assert!(!v.check(two.as_bytes(), &relay).await.is_verified());
        let other = "From: b@evil.example\r\n\r\nx\r\n";
        assert!(!v.check(other.as_bytes(), &relay).await.is_verified());
    }

    #[test]
    fn comments_are_dropped() {
        assert_eq!(without_comments("a (b (c) d) e\r\n f"), "a  e   f");
    }
}
