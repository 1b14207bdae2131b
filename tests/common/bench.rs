//! The harness of the benchmarks (`tests/bench_*.rs`; CPU accounting is in `procs`): knobs
//! from the environment, medians, sequence-numbered messages, what was measured (commit,
//! build, machine), the results files in `bench/results`, and log tails.

use super::Prosody;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        _ => default,
    }
}

/// A list of numbers separated by spaces or commas (`"1 4"`).
pub fn env_list(name: &str, default: &str) -> Vec<usize> {
    let v = std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned());
    v.split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| panic!("{name}={v:?}: {s:?} is not a number"))
        })
        .collect()
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// The text that carries message `seq` of phase `tag` (an SMS text, a mail subject).
pub fn tagged(tag: &str, seq: usize) -> String {
    format!("bench {tag} {seq:06}")
}

/// `tagged` read back: (tag, seq).
pub fn parse_tagged(text: &str) -> Option<(&str, usize)> {
    let mut words = text.split(' ');
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("bench"), Some(tag), Some(seq), None) => Some((tag, seq.parse().ok()?)),
        _ => None,
    }
}

/// The sequence numbers seen other than once: (seq, times), the first 20.
pub fn repeated(seen: &BTreeMap<usize, u32>) -> Vec<(usize, u32)> {
    seen.iter()
        .filter(|(_, &c)| c != 1)
        .map(|(&s, &c)| (s, c))
        .take(20)
        .collect()
}

/// The first 20 sequence numbers below `n` not seen.
pub fn missing(seen: &BTreeMap<usize, u32>, n: usize) -> Vec<usize> {
    (0..n).filter(|s| !seen.contains_key(s)).take(20).collect()
}

/// A Prosody with `component` (domain, secret) and the users `u1@localhost` … `u<users>`
/// (password `pw`): it, and their JIDs.
pub fn prosody_with_users(
    dir: &Path,
    component: (&str, &str),
    users: usize,
) -> (Prosody, Vec<String>) {
    let names: Vec<String> = (1..=users).map(|u| format!("u{u}")).collect();
    let accounts: Vec<(&str, &str, &str)> = names
        .iter()
        .map(|u| (u.as_str(), "localhost", "pw"))
        .collect();
    let prosody = Prosody::start(dir, &[component], &accounts);
    (
        prosody,
        names.iter().map(|u| format!("{u}@localhost")).collect(),
    )
}

// ---------------------------------------------------------------------------------------
// What was measured, and the results files.

/// The trimmed stdout of a command run in the package's directory, `?` when none.
fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".into())
}

/// The commit, the tracked files changed since (the gateway under test is built from the
/// working tree), and when the gateway binary was built.
fn source_state() -> String {
    let head = command_output("git", &["rev-parse", "--short", "HEAD"]);
    let changed = command_output("git", &["diff", "--name-only", "HEAD"]);
    let built = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ", "-r"])
        .arg(env!("CARGO_BIN_EXE_switchboard"))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let changes = if changed == "?" {
        String::new()
    } else {
        let files: Vec<&str> = changed.lines().map(str::trim).collect();
        format!(" with uncommitted changes to {}", files.join(", "))
    };
    format!("{head}{changes}; gateway binary built {built}")
}

/// "nproc 2, kernel …, <CPU model>".
fn machine() -> String {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "?".into());
    format!(
        "nproc {}, kernel {}, {cpu_model}",
        command_output("nproc", &[]),
        command_output("uname", &["-r"])
    )
}

/// Now, UTC, in the form `format` of date(1).
fn now(format: &str) -> String {
    command_output("date", &["-u", format])
}

/// One benchmark run: the source it started with, its log filter, and the lines it reports.
pub struct Run {
    commit_before: String,
    rust_log: String,
    lines: Vec<String>,
    /// The results file's date in the form of its name (`20261123T162514Z`), not ISO 8601.
    pub date_as_stamp: bool,
}

impl Run {
    /// Notes the source state, and sets production-like logging unless RUST_LOG is set (the
    /// rig's default, trace, would measure the log writer).
    pub fn start() -> Run {
        let commit_before = source_state();
        if std::env::var_os("RUST_LOG").is_none() {
            std::env::set_var("RUST_LOG", "info");
        }
        Run {
            commit_before,
            rust_log: std::env::var("RUST_LOG").unwrap_or_default(),
            lines: Vec::new(),
            date_as_stamp: false,
        }
    }

    /// Prints `line` and keeps it for the results file.
    pub fn report(&mut self, line: String) {
        println!("{line}");
        self.lines.push(line);
    }

    /// Reports the other runs' `servers` (what they may be, in words) seen during the timed
    /// phases, if any.
    pub fn note_foreign(&mut self, servers: &str, foreign: &BTreeSet<String>) {
        if !foreign.is_empty() {
            self.report(format!(
                "NOTE: other {servers} ran during the timed phases, so these figures are not \
                 valid: {foreign:?}"
            ));
        }
    }

    /// Writes `bench/results/<kind>-<UTC>.txt` and prints its path: `title`, the date,
    /// `params`, the commit (both states if it changed during the run), the build, `extra`,
    /// the machine, then the reported lines.
    pub fn write(&self, kind: &str, title: &str, params: &[String], extra: &[String]) {
        let commit_after = source_state();
        let commit = if commit_after == self.commit_before {
            commit_after
        } else {
            format!(
                "{} at the start, {commit_after} at the end: CHANGED DURING THE RUN",
                self.commit_before
            )
        };
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        let stamp = now("+%Y%m%dT%H%M%SZ");
        let date = match self.date_as_stamp {
            true => stamp.clone(),
            false => now("+%Y-%m-%dT%H:%M:%SZ"),
        };
        let mut text = format!("{title}\ndate: {date}\n");
        for line in params {
            let _ = writeln!(text, "{line}");
        }
        let _ = writeln!(text, "commit: {commit}");
        let _ = writeln!(text, "gateway build: {profile}; RUST_LOG={}", self.rust_log);
        for line in extra {
            let _ = writeln!(text, "{line}");
        }
        let _ = writeln!(text, "machine: {}", machine());
        for line in &self.lines {
            let _ = writeln!(text, "{line}");
        }
        let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results");
        std::fs::create_dir_all(&results).expect("create bench/results");
        let file = results.join(format!("{kind}-{stamp}.txt"));
        std::fs::write(&file, text).expect("write the results");
        println!("results: {}", file.display());
    }
}

/// The last `lines` lines of a log, framed.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    format!(
        "--- last {lines} lines of {} ---\n{}\n---",
        path.display(),
        all[all.len().saturating_sub(lines)..].join("\n")
    )
}
