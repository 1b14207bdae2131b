//! Inbound mail: the SMTP listener's decisions (which recipients exist) and the durable
//! hand-over to users. A mail is handed to the gateway's inbound store (one event per
//! user, in one transaction) before the listener answers 250; the gateway delivers it
//! from there, after a crash too. A mail whose Message-ID a user already got in the last
//! days is answered 250 and not delivered again. A store that fails answers 451.
//!
//! Parsing a mail runs on the [`Heavy`] pool, off the async workers; its sender is then
//! checked ([`Verifier`]) and, unverified, refused or marked (`email.auth.unverified`).

use crate::address::MailAddress;
use crate::config::Unverified;
use crate::digests::Digests;
use crate::heavy::Heavy;
use crate::inbound::{self, InboundMail};
use crate::shared::Shared;
use crate::smtp::{self, DeliverError, Envelope, RcptVerdict, SmtpHandler, SmtpServerConfig};
use crate::verify::{Facts, Verdict, Verifier};
use async_trait::async_trait;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use switchboard_bridge::{
    Accepted, BridgeError, Chat, Inbound, IncomingMessage, MessageContent, Recipient, RemoteEvent,
    Sender, UserId,
};

/// Sender checks running at once (each mostly waits for DNS, on a blocking thread).
const PARALLEL_CHECKS: usize = 8;

/// What starts the text of a mail whose sender is not verified.
pub const UNVERIFIED_TEXT: &str = "[unverified sender] ";
/// What ends the sender's name on such a mail.
pub const UNVERIFIED_NAME: &str = " (unverified)";

/// A mail stored by an earlier version (in the bridge's own store, under `inmail:`) and
/// the users it is for: handed to the gateway's inbound store at start.
#[derive(serde::Serialize, serde::Deserialize)]
struct Pending {
    owners: Vec<String>,
    mail: InboundMail,
}

/// Binds the listener, delivers what an earlier run accepted, and serves until shutdown.
pub async fn start(shared: Arc<Shared>, digests: Arc<Digests>) -> Result<(), BridgeError> {
    let network = shared.network()?.clone();
    // Read before binding: a bad certificate stops the gateway at start.
    let tls = match &shared.config.tls {
        Some(tls) => Some(smtp::load_tls_config(&tls.cert, &tls.key).map_err(|e| {
            BridgeError::Invalid(format!("email.tls: cannot use the certificate: {e}"))
        })?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&shared.config.listen)
        .await
        .map_err(|e| {
            BridgeError::Unreachable(format!(
                "cannot listen on {} for SMTP: {e}",
                shared.config.listen
            ))
        })?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, starttls = tls.is_some(), "SMTP listening");
    }
    let pending = network.store.scan("inmail:").await?;
    if !pending.is_empty() {
        tracing::info!(
            mails = pending.len(),
            "Delivering mail accepted before the restart"
        );
    }
    let config = SmtpServerConfig {
        hostname: shared.config.hostname().to_string(),
        max_message_bytes: shared.config.max_message_bytes,
        max_recipients: shared.config.max_recipients,
        max_connections_per_ip: shared.config.max_connections_per_ip,
        max_session: shared.config.max_session,
        stats: shared.inbound.smtp.clone(),
        tls,
        ..SmtpServerConfig::default()
    };
    let verifier = Arc::new(Verifier::new(&shared.config.auth, shared.config.hostname()));
    let heavy = Heavy::for_this_machine();
    tracing::debug!(parallel = heavy.limit(), "Mail parsing pool");
    let redeliver = shared.clone();
    tokio::spawn(async move {
        for (key, json) in pending {
            hand_over(&redeliver, key, json).await;
        }
    });
    let handler: Arc<dyn SmtpHandler> = Arc::new(Handler {
        shared,
        digests,
        heavy,
        checks: Heavy::new(PARALLEL_CHECKS),
        verifier,
    });
    tokio::spawn(smtp::serve(
        listener,
        config,
        handler,
        network.shutdown.clone(),
    ));
    Ok(())
}

struct Handler {
    shared: Arc<Shared>,
    digests: Arc<Digests>,
    /// Parsing (MIME, HTML to text, quote stripping).
    heavy: Heavy,
    /// Sender checks.
    checks: Heavy,
    verifier: Arc<Verifier>,
}

/// Who a recipient address of ours is.
enum Local {
    /// A user's alias: the user.
    Alias(String),
    /// A digest's unsubscribe address (`unsubscribe+<token>@`): the token.
    Unsubscribe(String),
}

impl Handler {
    /// The postmaster (`email.postmaster`), once registered with the transport: mail is
    /// only taken for a user it can be handed to.
    async fn postmaster(&self) -> Result<Option<Local>, BridgeError> {
        let Some(jid) = &self.shared.config.postmaster else {
            return Ok(None);
        };
        let registered = self.shared.alias_of(jid).await?.is_some();
        Ok(registered.then(|| Local::Alias(jid.clone())))
    }

    /// What a recipient address is, if it is one of ours.
    async fn local(&self, rcpt: &str) -> Result<Option<Local>, BridgeError> {
        if rcpt.eq_ignore_ascii_case("postmaster") {
            return self.postmaster().await;
        }
        let Ok(address) = MailAddress::parse(rcpt) else {
            return Ok(None);
        };
        if !address
            .domain()
            .eq_ignore_ascii_case(&self.shared.config.address_domain)
        {
            return Ok(None);
        }
        let local = address.local().to_ascii_lowercase();
        if local == "postmaster" {
            return self.postmaster().await;
        }
        if let Some(token) = local.strip_prefix("unsubscribe+") {
            // Any token is taken: whether it was live is not told to strangers.
            return Ok(Some(Local::Unsubscribe(token.to_string())));
        }
        Ok(self.shared.owner_of_alias(&local).await?.map(Local::Alias))
    }
}

#[async_trait]
impl SmtpHandler for Handler {
    async fn check_recipient(&self, rcpt: &str) -> RcptVerdict {
        match self.local(rcpt).await {
            Ok(Some(_)) => RcptVerdict::Accept,
            Ok(None) => RcptVerdict::Reject("5.1.1 no such user here".into()),
            Err(e) => {
                tracing::warn!(error = %e, "Cannot look up a recipient");
                RcptVerdict::TempFail("4.3.0 try again later".into())
            }
        }
    }

    async fn deliver(&self, envelope: Envelope, message: Vec<u8>) -> Result<String, DeliverError> {
        let raw = Arc::new(message);
        let parse = {
            let raw = raw.clone();
            self.heavy.run(move || inbound::parse(&raw))
        };
        let mut mail = parse
            .await
            .map_err(|_| DeliverError::Transient("4.3.0 try again later".into()))?
            .map_err(|e| DeliverError::Permanent(format!("5.6.0 {e}")))?;
        self.shared
            .network()
            .map_err(|_| DeliverError::Transient("4.3.0 starting".into()))?;
        let id = format!("{:016x}", rand::random::<u64>());
        let mut owners = Vec::new();
        for rcpt in &envelope.rcpt_to {
            match self.local(rcpt).await {
                Ok(Some(Local::Alias(owner))) if !owners.contains(&owner) => owners.push(owner),
                Ok(Some(Local::Unsubscribe(token))) => {
                    // RFC 2369 mailto unsubscribe: the mail itself is the request.
                    match self.digests.unsubscribe_token(&token).await {
                        Ok(ended) => tracing::info!(ended, "Unsubscribe mail taken"),
                        Err(_) => {
                            return Err(DeliverError::Transient("4.3.0 try again later".into()))
                        }
                    }
                }
                Ok(_) => {} // a duplicate, or unassigned since RCPT
                Err(_) => return Err(DeliverError::Transient("4.3.0 try again later".into())),
            }
        }
        if owners.is_empty() {
            return Ok(id); // only unsubscribe requests: nothing to hand over
        }
        let verdict = self.verify(raw, &envelope, &mail).await;
        mail.verified = verdict.is_verified();
        let stats = &self.shared.inbound;
        match (&verdict, self.shared.config.auth.unverified) {
            (Verdict::Verified(how), _) => tracing::info!(how, "Sender verified"),
            (Verdict::Unverified(why), Unverified::Refuse) => {
                stats.unverified_refused.fetch_add(1, Ordering::Relaxed);
                tracing::info!(why, peer = %envelope.peer, "Mail refused: sender not verified");
                return Err(DeliverError::Permanent(format!(
                    "5.7.1 Sender not verified ({why}); this gateway takes only mail whose \
                     From an authenticated path vouches for"
                )));
            }
            (Verdict::Unverified(why), Unverified::Mark) => {
                stats.unverified_marked.fetch_add(1, Ordering::Relaxed);
                tracing::info!(why, "Sender not verified: delivered marked");
            }
        }
        match store_mail(&self.shared, owners, &mail).await {
            Ok(()) => Ok(id),
            Err(e) if e.is_transient() => Err(DeliverError::Transient(
                "4.3.0 cannot store the mail".into(),
            )),
            Err(e) => {
                tracing::warn!(error = %e, "Mail refused: the gateway does not take its user");
                Err(DeliverError::Permanent("5.7.1 not deliverable here".into()))
            }
        }
    }
}

impl Handler {
    /// Whether the mail's From is vouched for (on a blocking thread: parsing the headers
    /// and hashing the body cost CPU in proportion to the mail).
    async fn verify(&self, raw: Arc<Vec<u8>>, envelope: &Envelope, mail: &InboundMail) -> Verdict {
        let facts = Facts {
            ip: envelope.peer.ip(),
            helo: envelope.helo.clone(),
            mail_from: envelope.mail_from.clone(),
            from: mail.from.to_string(),
        };
        let verifier = self.verifier.clone();
        let runtime = tokio::runtime::Handle::current();
        self.checks
            .run(move || runtime.block_on(async move { verifier.check(&raw, &facts).await }))
            .await
            .unwrap_or(Verdict::Unverified("the check did not finish"))
    }
}

/// The event a mail is for one of its users; keyed by its Message-ID and that user, so a
/// mail sent again (a client retrying after a lost 250, a replay) is delivered once.
fn event_for(owner: &str, mail: &InboundMail) -> Inbound {
    let from = mail.from.to_string();
    // An unverified sender is shown as such; the name and the text say so.
    let (display_name, text) = if mail.verified {
        (mail.from_name.clone(), mail.text.clone())
    } else {
        let name = mail.from_name.clone().unwrap_or_else(|| from.clone());
        (
            Some(format!("{name}{UNVERIFIED_NAME}")),
            format!("{UNVERIFIED_TEXT}{}", mail.text),
        )
    };
    let event = RemoteEvent::Message(IncomingMessage {
        id: mail
            .message_id
            .clone()
            .map(switchboard_bridge::MessageId::new),
        chat: Chat::Direct(UserId::new(from.clone())),
        sender: Sender {
            user: UserId::new(from),
            display_name,
            is_self: false,
        },
        content: MessageContent {
            text,
            subject: mail.subject.clone(),
            ..MessageContent::default()
        },
        txn: None,
        timestamp: None,
    });
    Inbound {
        once: mail
            .message_id
            .as_ref()
            .map(|id| format!("mail:{owner}:{}", id.chars().take(256).collect::<String>())),
        ..Inbound::new(Recipient::Owner(owner.to_string()), event)
    }
}

/// Stores a mail for its users in the gateway (all or none), then notes it in each new
/// recipient's thread with the sender.
async fn store_mail(
    shared: &Shared,
    owners: Vec<String>,
    mail: &InboundMail,
) -> Result<(), BridgeError> {
    let network = shared.network()?;
    let items: Vec<Inbound> = owners.iter().map(|o| event_for(o, mail)).collect();
    let answers = network
        .inbox
        .deliver_all(items)
        .await
        .map_err(|_| BridgeError::Transient("the gateway is stopping".into()))??;
    // A mail nobody vouches for never sets the Subject or References of the user's later
    // replies (hostile.md M3).
    if !mail.verified {
        return Ok(());
    }
    let from = mail.from.to_string();
    for (owner, answer) in owners.iter().zip(answers) {
        if answer == Accepted::Duplicate {
            continue;
        }
        // The answer continues the sender's thread.
        if let Ok(mut thread) = shared.thread(owner, &from).await {
            if let Some(id) = &mail.message_id {
                thread.push(id.clone());
            }
            if thread.subject.is_none() {
                thread.subject = mail.subject.clone();
            }
            let _ = shared.save_thread(owner, &from, &thread).await;
        }
    }
    Ok(())
}

/// Hands a mail stored by an earlier version to the gateway; removes it once stored
/// there (or once it can never be).
async fn hand_over(shared: &Shared, key: String, json: String) {
    let Ok(network) = shared.network() else {
        return;
    };
    let Ok(Pending { owners, mail }) = serde_json::from_str::<Pending>(&json) else {
        let _ = network.store.delete(&key).await;
        return;
    };
    let mut backoff = Duration::from_secs(1);
    loop {
        match store_mail(shared, owners.clone(), &mail).await {
            Err(e) if e.is_transient() => {
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = network.shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
            Err(e) => {
                tracing::warn!(error = %e, "Accepted mail has no user any more; dropped");
                break;
            }
            Ok(()) => break,
        }
    }
    let _ = network.store.delete(&key).await;
}
