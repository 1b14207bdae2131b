//! CPU time of the processes a benchmark involves (from /proc), in named groups, and other
//! runs' servers on the machine (another benchmark or test at the same time voids the
//! figures).

use super::{Gateway, Prosody};
use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

/// Servers whose presence during an SMS benchmark (when not its own) voids its figures.
pub const SMS_RIVALS: &[&str] = &[
    "switchboard",
    "bearerbox",
    "smsbox",
    "prosody",
    "xmpp_agent.py",
    "inspircd",
];

/// The same for the email benchmarks.
pub const EMAIL_RIVALS: &[&str] = &[
    "switchboard",
    "prosody",
    "xmpp_agent.py",
    "smtp_capture.py",
    "bearerbox",
    "inspircd",
];

/// Programs that mention a rival's name but are not one: builds, the benchmarks themselves.
pub const BUILDERS: &[&str] = &["cargo", "rustc", "bench_email", "bench_digest"];

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process (all its threads), in ticks.
fn cpu_ticks(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15.
    let field = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

/// (pid, command line with its arguments joined by spaces) of every process.
fn processes() -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some((pid, cmdline))
        })
        .collect()
}

/// Pids whose command line contains every one of `needles`.
pub fn pids_matching(needles: &[&str]) -> Vec<String> {
    processes()
        .into_iter()
        .filter(|(_, cmdline)| needles.iter().all(|n| cmdline.contains(n)))
        .map(|(pid, _)| pid)
        .collect()
}

/// The groups "gateway", "prosody" and "agents" (the slixmpp agents on `prosody`).
pub fn xmpp_groups(gateway: &Gateway, prosody: &Prosody) -> Vec<Group> {
    let c2s = format!("--port {} ", prosody.c2s_port());
    vec![
        ("gateway", vec![gateway.pid().to_string()]),
        (
            "prosody",
            prosody.pid().map(|p| p.to_string()).into_iter().collect(),
        ),
        ("agents", pids_matching(&["xmpp_agent.py", &c2s])),
    ]
}

/// A named group of processes: its pids.
pub type Group = (&'static str, Vec<String>);

/// The processes whose CPU time a phase reports, in groups.
pub struct Procs {
    groups: Vec<Group>,
    tick: f64,
    omit_idle: &'static [&'static str],
}

impl Procs {
    /// `describe` leaves out the groups `omit_idle` when they used no CPU.
    pub fn new(groups: Vec<Group>, omit_idle: &'static [&'static str]) -> Procs {
        Procs {
            groups,
            tick: clock_ticks(),
            omit_idle,
        }
    }

    fn index(&self, name: &str) -> usize {
        self.groups
            .iter()
            .position(|(n, _)| *n == name)
            .expect("a known group")
    }

    pub fn snapshot(&self) -> Vec<u64> {
        self.groups
            .iter()
            .map(|(_, pids)| pids.iter().map(|p| cpu_ticks(p)).sum())
            .collect()
    }

    /// CPU seconds of group `name` between two snapshots.
    pub fn secs(&self, name: &str, before: &[u64], after: &[u64]) -> f64 {
        let i = self.index(name);
        after[i].saturating_sub(before[i]) as f64 / self.tick
    }

    /// "gateway 1.23 s (0.61 core), …" between two snapshots over `wall`.
    pub fn describe(&self, before: &[u64], after: &[u64], wall: Duration) -> String {
        let mut text = String::new();
        for (name, _) in &self.groups {
            let secs = self.secs(name, before, after);
            if secs == 0.0 && self.omit_idle.contains(name) {
                continue;
            }
            if !text.is_empty() {
                text.push_str(", ");
            }
            let _ = write!(
                text,
                "{name} {secs:.2} s ({:.2} core)",
                secs / wall.as_secs_f64().max(1e-9)
            );
        }
        text
    }

    /// Other runs' servers: processes of the kinds `rivals`, not `exempt` (by their first two
    /// words), not ours; another benchmark or test at the same time voids the figures.
    pub fn foreign(&self, rivals: &[&str], exempt: &[&str]) -> Vec<String> {
        let me = std::process::id().to_string();
        let own: Vec<&String> = self.groups.iter().flat_map(|(_, pids)| pids).collect();
        processes()
            .into_iter()
            .filter(|(pid, _)| !own.contains(&pid) && *pid != me)
            .filter_map(|(pid, cmdline)| {
                let program = cmdline.split(' ').take(2).collect::<Vec<_>>().join(" ");
                (rivals.iter().any(|k| program.contains(k))
                    && !exempt.iter().any(|e| program.contains(e)))
                .then(|| format!("{pid} {}", cmdline.chars().take(80).collect::<String>()))
            })
            .collect()
    }
}
