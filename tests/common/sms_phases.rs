//! The two timed phases of the SMS benchmark (`tests/bench_sms.rs`): phase A sends straight
//! to Kannel's `sendsms`, phase B through the gateway from XMPP users; both time until every
//! MT has reached the fake SMSC.

use super::bench::{tagged, tail};
use super::kannel::Kannel;
use super::mt_tally::{check, collect, collect_warmup, linger, numbers, share};
use super::procs::{Procs, SMS_RIVALS};
use super::sendsms_client::{sendsms_path, KeepAlive};
use super::sms::{contact, metric, KANNEL_SECRET};
use super::{Agent, Gateway};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How long the rig's SMSC reader holds a GSM text MT when no further line follows.
const RIG_TEXT_HOLD: Duration = Duration::from_millis(50);

/// What one phase measured.
pub struct PhaseResult {
    pub secs: f64,
    /// Until the last HTTP answer (A) or the last stanza handed to an agent (B).
    pub submit_secs: f64,
    pub cpu: String,
    pub note: String,
}

impl PhaseResult {
    pub fn rate(&self, n: usize) -> f64 {
        n as f64 / self.secs
    }
}

/// What the phases run on, and with which settings.
pub struct Rig<'a> {
    pub n: usize,
    pub users: usize,
    pub deadline: Instant,
    pub kannel: &'a Kannel,
    pub gateway: &'a Gateway,
    pub http_port: u16,
    pub agents: &'a [Agent],
    pub procs: &'a Procs,
    /// Diagnosis only: a pause after each answer in phase A.
    pub direct_pause: Duration,
    /// Whether delivery reports are asked for (the gateway's default; `SMS_BENCH_DLR=0`).
    pub dlr: bool,
    /// Other runs' servers seen at the start or end of a timed phase.
    pub foreign: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Rig<'_> {
    fn details(&self) -> String {
        format!(
            "{}\n{}",
            self.kannel.details(),
            tail(self.gateway.log_path(), 40)
        )
    }

    fn note_foreign(&self) {
        let found = self.procs.foreign(SMS_RIVALS, &[]);
        self.foreign.lock().unwrap().extend(found);
    }

    fn dlr_url(&self, reference: &str) -> String {
        format!(
            "http://127.0.0.1:{}/sms/kannel/dlr?secret={KANNEL_SECRET}&ref={reference}&type=%d",
            self.http_port
        )
    }

    /// Sends one untimed warm-up message per sender and waits for them; then times
    /// `send(state of sender u, u, seq)` over every sender's share, one thread per sender,
    /// until the rig has all N MTs, and checks them.
    fn timed<S: Send>(
        &self,
        tag: &str,
        states: &mut [S],
        send: &(dyn Fn(&mut S, usize, &str, usize) + Sync),
    ) -> (Duration, Duration, String) {
        let warm = format!("W{tag}");
        for (u, state) in states.iter_mut().enumerate() {
            send(state, u, &warm, u);
        }
        collect_warmup(self.kannel, &warm, self.users, self.deadline, &|| {
            self.details()
        });

        let failed = AtomicBool::new(false);
        self.note_foreign();
        let cpu_before = self.procs.snapshot();
        let start = Instant::now();
        let (tally, submitted) = thread::scope(|scope| {
            let senders: Vec<_> = states
                .iter_mut()
                .enumerate()
                .map(|(u, state)| {
                    let range = share(self.n, self.users, u);
                    let failed = &failed;
                    scope.spawn(move || {
                        let _flag = FlagOnPanic(failed);
                        for seq in range {
                            send(state, u, tag, seq);
                        }
                        Instant::now()
                    })
                })
                .collect();
            let details = || {
                if failed.load(Ordering::Relaxed) {
                    "a sender failed (its panic is printed above)".to_owned()
                } else {
                    self.details()
                }
            };
            let stop = || failed.load(Ordering::Relaxed);
            let tally = collect(
                self.kannel,
                tag,
                self.n,
                self.users,
                self.deadline,
                &stop,
                &details,
            );
            let submitted = senders
                .into_iter()
                .map(|s| s.join().expect("a sender thread"))
                .max()
                .expect("at least one sender");
            (tally, submitted)
        });
        // The rig holds a GSM text MT until the next line or 50 ms of quiet
        // (`read_lines` in tests/common/kannel_smsc.rs): the last MT of a phase is always
        // held, so its arrival is 50 ms earlier than when the rig hands it over.
        let wall = (tally.complete_at - start).saturating_sub(RIG_TEXT_HOLD);
        let cpu_after = self.procs.snapshot();
        self.note_foreign();
        let tally = linger(self.kannel, tag, self.n, self.users, tally);
        check(tag, self.n, &tally);
        let cpu = self.procs.describe(&cpu_before, &cpu_after, wall);
        (wall, submitted - start, cpu)
    }

    /// Phase A: U threads, each with its own keep-alive connection to smsbox.
    pub fn direct(&self, tag: &str) -> PhaseResult {
        let port = self.kannel.sendsms_port();
        let mut clients: Vec<KeepAlive> = (0..self.users).map(|_| KeepAlive::new(port)).collect();
        let send = |client: &mut KeepAlive, u: usize, tag: &str, seq: usize| {
            let (from, to) = numbers(u);
            let text = tagged(tag, seq);
            let dlr_url = self.dlr.then(|| self.dlr_url(&format!("{tag}-{seq}")));
            let path = sendsms_path(&from, &to, &text, dlr_url.as_deref());
            let (code, body) = client.get(&path);
            assert!(
                (200..300).contains(&code),
                "smsbox answered {code} {body:?} to {text:?}"
            );
            if !self.direct_pause.is_zero() {
                thread::sleep(self.direct_pause);
            }
        };
        let (wall, submitted, cpu) = self.timed(tag, &mut clients, &send);
        let connects: u32 = clients.iter().map(|c| c.connects).sum();
        PhaseResult {
            secs: wall.as_secs_f64(),
            submit_secs: submitted.as_secs_f64(),
            cpu,
            note: format!(
                "{connects} TCP connections for {} requests (keep-alive)",
                self.n + self.users
            ),
        }
    }

    /// Phase B: U XMPP users, each sending its share as chat messages to its phone contact.
    pub fn gateway(&self, tag: &str) -> PhaseResult {
        let mut agents: Vec<&Agent> = self.agents.iter().collect();
        let send = |agent: &mut &Agent, u: usize, tag: &str, seq: usize| {
            let (_, phone) = numbers(u);
            agent.send(&format!(
                "<message type='chat' id='{tag}-{seq}' to='{}'><body>{}</body></message>",
                contact(&phone),
                tagged(tag, seq)
            ));
        };
        let (wall, submitted, cpu) = self.timed(tag, &mut agents, &send);
        // Nothing bounced, and the outbox is empty again.
        for agent in self.agents {
            let error = |s: &minidom::Element| s.attr("type") == Some("error");
            if let Some(e) = agent.try_expect(Duration::from_millis(50), error) {
                panic!("{} got an error: {}", agent.jid(), String::from(&e));
            }
        }
        let outbox_deadline = (Instant::now() + Duration::from_secs(10)).min(self.deadline);
        loop {
            let left = metric(self.http_port, "switchboard_outbox_messages");
            if left == 0 {
                break;
            }
            assert!(
                Instant::now() < outbox_deadline,
                "{left} messages still in the outbox after all MTs arrived\n{}",
                self.details()
            );
            thread::sleep(Duration::from_millis(50));
        }
        PhaseResult {
            secs: wall.as_secs_f64(),
            submit_secs: submitted.as_secs_f64(),
            cpu,
            note: String::new(),
        }
    }
}

/// Raises the flag when the thread that holds it panics.
struct FlagOnPanic<'a>(&'a AtomicBool);

impl Drop for FlagOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}
