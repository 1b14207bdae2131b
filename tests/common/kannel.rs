//! A private Kannel 1.4.5 (Debian's bearerbox + smsbox) with a fake SMSC whose only client is
//! the rig itself, standing in for the phones (see `kannel_smsc.rs` for its line protocol).

use super::kannel_smsc::{self, SmscClient};
#[allow(unused_imports)]
pub use super::kannel_smsc::{join_parts, Coding, Mt, Part};
use super::twilio_http::try_http_request;
use super::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BEARERBOX_BIN: &str = "/usr/sbin/bearerbox";
pub const SMSBOX_BIN: &str = "/usr/sbin/smsbox";
const KANNEL_HINT: &str =
    "run scripts/install-deps.sh (installs Debian's kannel and kannel-extras)";
const KANNEL_TEMPLATE: &str = include_str!("../support/kannel.conf.in");
const STATUS_PASSWORD: &str = "statuspw";
const ADMIN_PASSWORD: &str = "adminpw";
/// How often smsbox retries an MO whose get-url request failed, one second apart.
pub const MO_RETRIES: u32 = 30;
const PORT_ATTEMPTS: usize = 3;
/// Logged by either box when a port is taken. bearerbox keeps running without its admin
/// port (it exits when the SMSC port is taken), smsbox exits.
const PORT_TAKEN: &str = "Address already in use";

/// One SMS towards the phone, re-assembled from its parts when Kannel split it.
#[derive(Clone, Debug)]
pub struct MtMessage {
    pub from: String,
    pub to: String,
    pub text: String,
    /// One element for an unsplit SMS.
    pub parts: Vec<Mt>,
}

/// A private Kannel for one test (config `tests/support/kannel.conf.in`), on free loopback
/// ports. MO (phone -> gateway) goes to `mo_url` by HTTP GET; MT (gateway -> phone) comes in
/// on [`Kannel::sendsms_url`] as user [`Kannel::USER`]/[`Kannel::PASS`]. Files live in
/// `<workdir>/kannel/`: `kannel.conf`, `bearerbox.log` and `smsbox.log` (console output,
/// info level) and the two access logs (the bearerbox one shows each MT's coding in `flags`).
pub struct Kannel {
    dir: PathBuf,
    config: PathBuf,
    bearerbox_log: PathBuf,
    smsbox_log: PathBuf,
    offsets: (u64, u64),
    admin_port: u16,
    box_port: u16,
    smsc_port: u16,
    sendsms_port: u16,
    bearerbox: Option<Child>,
    smsbox: Option<Child>,
    smsc: Option<SmscClient>,
}

impl Kannel {
    pub const USER: &'static str = "gw";
    pub const PASS: &'static str = "gwpass";

    /// Writes the config, starts bearerbox and smsbox, connects the rig to the fake SMSC and
    /// returns once the SMSC is online. `mo_url` is the gateway's MO endpoint with its query
    /// (e.g. `http://127.0.0.1:PORT/sms/kannel?secret=S`; no `%`, `"` or space in it): Kannel
    /// calls it with `&from=%p&to=%P&text=%b&charset=%C&coding=%c&id=%I` appended. Any answer
    /// but 200 or 202 (a 204, a 403 for a wrong secret, …) and no answer at all are retried,
    /// [`MO_RETRIES`] times one second apart; the answer's body is never texted back.
    pub fn start(workdir: &Path, mo_url: &str) -> Kannel {
        for bin in [BEARERBOX_BIN, SMSBOX_BIN] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is not installed: {KANNEL_HINT}"
            );
        }
        assert!(
            !mo_url.contains(['%', '"', ' ']),
            "no %, \" or space in the MO URL (Kannel reads % as a pattern): {mo_url}"
        );
        let separator = if mo_url.contains('?') { '&' } else { '?' };
        let get_url =
            format!("{mo_url}{separator}from=%p&to=%P&text=%b&charset=%C&coding=%c&id=%I");
        let dir = workdir.join("kannel");
        fs::create_dir_all(&dir).expect("create the Kannel directory");
        let mut kannel = Kannel {
            config: dir.join("kannel.conf"),
            bearerbox_log: dir.join("bearerbox.log"),
            smsbox_log: dir.join("smsbox.log"),
            dir,
            offsets: (0, 0),
            admin_port: 0,
            box_port: 0,
            smsc_port: 0,
            sendsms_port: 0,
            bearerbox: None,
            smsbox: None,
            smsc: None,
        };
        // A port found free can be taken before Kannel binds it: then try other ports.
        for _ in 0..PORT_ATTEMPTS {
            kannel.write_config(&get_url);
            if kannel.spawn() {
                return kannel;
            }
            kannel.stop();
        }
        panic!(
            "Kannel could not listen on free ports {PORT_ATTEMPTS} times\n{}",
            kannel.details()
        );
    }

    fn write_config(&mut self, get_url: &str) {
        let mut ports: Vec<u16> = Vec::new();
        while ports.len() < 4 {
            let port = free_port();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        [
            self.admin_port,
            self.box_port,
            self.smsc_port,
            self.sendsms_port,
        ] = [ports[0], ports[1], ports[2], ports[3]];
        let text = KANNEL_TEMPLATE
            .replace("@DIR@", &self.dir.to_string_lossy())
            .replace("@ADMIN_PORT@", &self.admin_port.to_string())
            .replace("@BOX_PORT@", &self.box_port.to_string())
            .replace("@SMSC_PORT@", &self.smsc_port.to_string())
            .replace("@SENDSMS_PORT@", &self.sendsms_port.to_string())
            .replace("@ADMIN_PASSWORD@", ADMIN_PASSWORD)
            .replace("@STATUS_PASSWORD@", STATUS_PASSWORD)
            .replace("@MO_RETRIES@", &MO_RETRIES.to_string())
            .replace("@USER@", Kannel::USER)
            .replace("@PASS@", Kannel::PASS)
            .replace("@GET_URL@", get_url);
        fs::write(&self.config, text).expect("write kannel.conf");
    }

    fn spawn_box(&self, bin: &str, log: &Path) -> Child {
        let (stdout, stderr) = stdout_stderr_log(log);
        spawn_or_explain(
            Command::new(bin)
                .args(["-v", "1"])
                .arg(&self.config)
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr),
            bin,
        )
    }

    /// Starts both boxes and the SMSC client; `false` when a port was taken.
    fn spawn(&mut self) -> bool {
        self.offsets = (file_len(&self.bearerbox_log), file_len(&self.smsbox_log));
        self.bearerbox = Some(self.spawn_box(BEARERBOX_BIN, &self.bearerbox_log));
        let bearerbox_up = |k: &Kannel| k.try_status().is_some_and(|s| s.contains("bearerbox"));
        if !self.wait_ready("bearerbox status page", &bearerbox_up) {
            return false;
        }
        self.smsbox = Some(self.spawn_box(SMSBOX_BIN, &self.smsbox_log));
        let smsbox_up = |k: &Kannel| {
            k.try_status()
                .is_some_and(|s| s.contains("smsbox:(none), IP 127.0.0.1"))
                && try_http_request("GET", &format!("{}/", k.sendsms_url()), &[], b"").is_ok()
        };
        if !self.wait_ready("smsbox", &smsbox_up) {
            return false;
        }
        let client = SmscClient::connect(self.smsc_port)
            .unwrap_or_else(|e| panic!("connect to the fake SMSC: {e}\n{}", self.details()));
        self.smsc = Some(client);
        let online = format!("FAKE:{} (online", self.smsc_port);
        let smsc_up = |k: &Kannel| k.try_status().is_some_and(|s| s.contains(&online));
        self.wait_ready("fake SMSC online", &smsc_up)
    }

    /// Waits until `ready`; `false` when a box logged that a port was taken. Panics when a
    /// box exits or [`READY_TIMEOUT`] passes.
    fn wait_ready(&mut self, what: &str, ready: &dyn Fn(&Kannel) -> bool) -> bool {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let logs = format!(
                "{}{}",
                read_from(&self.bearerbox_log, self.offsets.0),
                read_from(&self.smsbox_log, self.offsets.1)
            );
            if logs.contains(PORT_TAKEN) {
                return false;
            }
            if ready(self) {
                return true;
            }
            let boxes = [
                ("bearerbox", &mut self.bearerbox),
                ("smsbox", &mut self.smsbox),
            ];
            let exited = boxes.into_iter().find_map(|(name, child)| {
                match child.as_mut().map(Child::try_wait) {
                    Some(Ok(Some(status))) => Some((name, status)),
                    _ => None,
                }
            });
            if let Some((name, status)) = exited {
                panic!(
                    "{name} exited during startup ({status})\n{}",
                    self.details()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "Kannel: no {what} after {READY_TIMEOUT:?}\n{}",
                    self.details()
                );
            }
            thread::sleep(POLL);
        }
    }

    /// `http://127.0.0.1:<port>/cgi-bin/sendsms`.
    pub fn sendsms_url(&self) -> String {
        format!("http://127.0.0.1:{}/cgi-bin/sendsms", self.sendsms_port)
    }

    pub fn sendsms_port(&self) -> u16 {
        self.sendsms_port
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// Sends an MT the way a gateway does: GET sendsms with user, pass, from, to, text
    /// (URL-encoded UTF-8) and `extra` (e.g. `("charset", "UTF-8"), ("coding", "2")`).
    /// Kannel answers `202` `0: Accepted for delivery`.
    pub fn sendsms(
        &self,
        from: &str,
        to: &str,
        text: &str,
        extra: &[(&str, &str)],
    ) -> (u16, String) {
        let base = [
            ("user", Kannel::USER),
            ("pass", Kannel::PASS),
            ("from", from),
            ("to", to),
        ];
        let query: Vec<String> = base
            .iter()
            .chain([("text", text)].iter())
            .chain(extra)
            .map(|(k, v)| format!("{k}={}", kannel_smsc::url_encode(v.as_bytes())))
            .collect();
        http_get(
            self.sendsms_port,
            &format!("/cgi-bin/sendsms?{}", query.join("&")),
        )
    }

    /// bearerbox's `status.txt` (boxes, SMSC state, message counters).
    pub fn status(&self) -> String {
        self.try_status()
            .unwrap_or_else(|| panic!("Kannel's status page does not answer\n{}", self.details()))
    }

    fn try_status(&self) -> Option<String> {
        let path = format!("/status.txt?password={STATUS_PASSWORD}");
        let url = format!("http://127.0.0.1:{}{path}", self.admin_port);
        try_http_request("GET", &url, &[], b"")
            .ok()
            .map(|(_, body)| body)
    }

    fn smsc(&self) -> &SmscClient {
        self.smsc.as_ref().expect("Kannel is stopped")
    }

    /// A phone (`from`) texts `to`. Plain GSM text on one line goes as 7-bit (the gateway
    /// gets `coding=0&charset=UTF-8`); anything else (emoji, other scripts, newlines) as
    /// UCS-2 (`coding=2&charset=UTF-16BE`, `text` the URL-encoded UTF-16BE bytes).
    pub fn send_mo(&self, from: &str, to: &str, text: &str) {
        self.send_mo_line(&kannel_smsc::mo_line(from, to, text));
    }

    /// Like `send_mo`, always UCS-2.
    pub fn send_mo_ucs2(&self, from: &str, to: &str, text: &str) {
        self.send_mo_line(&kannel_smsc::mo_line_ucs2(from, to, text));
    }

    /// Writes one raw line (`FROM TO TYPE DATA`, no newline) to the fake SMSC.
    pub fn send_mo_line(&self, line: &str) {
        self.smsc().send_line(line);
    }

    /// The next SMS part Kannel sent towards the phones (oldest first), if one comes in time.
    pub fn try_mt(&self, timeout: Duration) -> Option<Mt> {
        self.smsc().take(timeout, &|_| true)
    }

    /// Like `try_mt`; panics (with the Kannel logs) when none comes.
    pub fn expect_mt(&self, timeout: Duration) -> Mt {
        self.try_mt(timeout)
            .unwrap_or_else(|| panic!("no MT within {timeout:?}\n{}", self.details()))
    }

    /// The next `n` SMS parts, in arrival order.
    pub fn expect_mt_parts(&self, n: usize, timeout: Duration) -> Vec<Mt> {
        let deadline = Instant::now() + timeout;
        let mut parts = Vec::new();
        while parts.len() < n {
            match self.try_mt(deadline.saturating_duration_since(Instant::now())) {
                Some(mt) => parts.push(mt),
                None => panic!(
                    "{} of {n} MT parts within {timeout:?}: {parts:#?}\n{}",
                    parts.len(),
                    self.details()
                ),
            }
        }
        parts
    }

    /// The next MT message, with all its parts when Kannel split it (other messages that come
    /// in between stay in the backlog).
    pub fn expect_mt_message(&self, timeout: Duration) -> MtMessage {
        let deadline = Instant::now() + timeout;
        let first = self.expect_mt(timeout);
        let mut parts = vec![first.clone()];
        if let Some(part) = first.part {
            let same = |mt: &Mt| {
                mt.from == first.from
                    && mt.to == first.to
                    && mt.part.is_some_and(|p| p.reference == part.reference)
            };
            while parts.len() < usize::from(part.total) {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.smsc().take(left, &same) {
                    Some(mt) => parts.push(mt),
                    None => panic!(
                        "parts missing within {timeout:?}: {parts:#?}\n{}",
                        self.details()
                    ),
                }
            }
        }
        let text = join_parts(&parts);
        MtMessage {
            from: first.from,
            to: first.to,
            text,
            parts,
        }
    }

    /// Panics if any MT arrives within `wait`.
    pub fn expect_no_mt(&self, wait: Duration) {
        if let Some(mt) = self.try_mt(wait) {
            panic!("unexpected MT: {mt:#?}");
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Log tails and the SMSC client's state, for failure messages.
    pub fn details(&self) -> String {
        let smsc = self
            .smsc
            .as_ref()
            .map(SmscClient::describe)
            .unwrap_or_default();
        format!(
            "{}\n{}\n{smsc}",
            tail(&self.bearerbox_log, 30),
            tail(&self.smsbox_log, 30)
        )
    }

    /// Closes the SMSC connection, SIGTERMs both boxes and waits for them (SIGKILL after
    /// 10 s). Does nothing when stopped.
    pub fn stop(&mut self) {
        if let Some(mut smsc) = self.smsc.take() {
            smsc.close();
        }
        let mut children: Vec<Child> = [self.smsbox.take(), self.bearerbox.take()]
            .into_iter()
            .flatten()
            .collect();
        for child in &children {
            signal(child.id(), "TERM");
        }
        for child in &mut children {
            if wait_timeout(child, STOP_TIMEOUT).is_none() {
                kill_and_reap(child);
            }
        }
    }
}

impl Drop for Kannel {
    fn drop(&mut self) {
        self.stop();
    }
}
