//! The `switchboard` binary under test, and its HTTP listener.

use super::*;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The `switchboard` binary built for these tests.
pub fn switchboard_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_switchboard"))
}

/// `GET path` on 127.0.0.1:`port` with a plain HTTP/1.0 request: (status code, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the HTTP listener");
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("send the request");
    let mut response = String::new();
    io::Read::read_to_string(&mut stream, &mut response).expect("read the response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Runs `switchboard <args>` in `cwd` to completion (CLI tests such as `check-config`).
pub fn run_switchboard(args: &[&str], cwd: &Path) -> Output {
    Command::new(switchboard_bin())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run the switchboard binary")
}

/// A running gateway: `switchboard --config switchboard.yaml` in `workdir`, its stdout and
/// stderr appended to `workdir/gateway.log`.
pub struct Gateway {
    child: Child,
    workdir: PathBuf,
    log: PathBuf,
    /// Where this run's output starts in `gateway.log` (earlier runs in the same workdir
    /// come before it).
    log_offset: u64,
}

impl Gateway {
    pub fn start(workdir: &Path, config_yaml: &str) -> Gateway {
        Gateway::start_with_env(workdir, config_yaml, &[])
    }

    /// Like `start`, with extra environment variables (e.g. for `${VAR}` in the config).
    pub fn start_with_env(workdir: &Path, config_yaml: &str, env: &[(&str, &str)]) -> Gateway {
        Gateway::start_with_args(workdir, config_yaml, env, &[])
    }

    /// Like `start_with_env`, with extra command-line arguments after `--config FILE`.
    pub fn start_with_args(
        workdir: &Path,
        config_yaml: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Gateway {
        fs::write(workdir.join("switchboard.yaml"), config_yaml).expect("write switchboard.yaml");
        let log = workdir.join("gateway.log");
        let log_offset = file_len(&log);
        let (stdout, stderr) = stdout_stderr_log(&log);
        let mut command = Command::new(switchboard_bin());
        command
            .args(["--config", "switchboard.yaml"])
            .args(args)
            .current_dir(workdir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .envs(env.iter().copied());
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "debug,switchboard=trace");
        }
        let child = command.spawn().expect("start the switchboard binary");
        Gateway {
            child,
            workdir: workdir.to_owned(),
            log,
            log_offset,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// What this run of the gateway has logged so far.
    pub fn log(&self) -> String {
        read_from(&self.log, self.log_offset)
    }

    /// Waits until this run's log contains `needle`; panics with the log tail otherwise.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(needle) {
            if Instant::now() >= deadline {
                panic!(
                    "gateway did not log {needle:?} within {timeout:?}\n{}",
                    tail(&self.log, 60)
                );
            }
            thread::sleep(POLL);
        }
    }

    /// The exit status if the gateway has exited, without waiting.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, then waits up to `timeout` for the exit status. `None` if it did not exit in
    /// time; it has been SIGKILLed then.
    pub fn sigterm_and_wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.try_wait() {
            return Some(status);
        }
        signal(self.child.id(), "TERM");
        let status = wait_timeout(&mut self.child, timeout);
        if status.is_none() {
            kill_and_reap(&mut self.child);
        }
        status
    }

    /// SIGKILL (a crash) and reap.
    pub fn kill9(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}
