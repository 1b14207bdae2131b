//! A real DNS server on loopback for the mail-authentication tests: Unbound (Debian's
//! `unbound`), run as the test user on a free port, serving only the records a test gives
//! (everything else is NXDOMAIN at once: `local-zone: "." static`, no recursion).

use super::{
    free_port, kill_and_reap, spawn_or_explain, stdout_stderr_log, tail, wait_started, Start,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running Unbound; stopped when dropped.
pub struct Dns {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl Dns {
    /// Starts Unbound in `dir/dns` with `records` (zone-file lines, e.g.
    /// `"_dmarc.signed.test. TXT \"v=DMARC1; p=reject\""`).
    pub fn start(dir: &Path, records: &[String]) -> Dns {
        let dir = dir.join("dns");
        std::fs::create_dir_all(&dir).expect("create the DNS directory");
        let log = dir.join("unbound.log");
        for _ in 0..5 {
            let port = free_port();
            let mut config = format!(
                "server:\n  interface: 127.0.0.1\n  port: {port}\n  do-ip6: no\n  \
                 do-daemonize: no\n  chroot: \"\"\n  username: \"\"\n  directory: \"{dir}\"\n  \
                 pidfile: \"{dir}/unbound.pid\"\n  use-syslog: no\n  logfile: \"\"\n  \
                 verbosity: 1\n  log-queries: no\n  access-control: 127.0.0.0/8 allow\n  \
                 module-config: \"iterator\"\n  local-zone: \".\" static\n",
                dir = dir.display()
            );
            for record in records {
                config.push_str(&format!("  local-data: '{record}'\n"));
            }
            config.push_str("remote-control:\n  control-enable: no\n");
            let conf = dir.join("unbound.conf");
            std::fs::write(&conf, config).expect("write unbound.conf");
            let (out, err) = stdout_stderr_log(&log);
            let offset = super::file_len(&log);
            let mut child = spawn_or_explain(
                Command::new("/usr/sbin/unbound")
                    .args(["-d", "-c"])
                    .arg(&conf)
                    .stdin(Stdio::null())
                    .stdout(out)
                    .stderr(err),
                "unbound",
            );
            let details = || tail(&log, 30);
            match wait_started(
                &mut child,
                &log,
                offset,
                "start of service",
                "Address already in use",
                "unbound",
                &details,
            ) {
                Start::Ready => {
                    return Dns {
                        child: Some(child),
                        port,
                        log,
                    }
                }
                Start::PortTaken => kill_and_reap(&mut child),
            }
        }
        panic!("unbound: no free port after 5 tries\n{}", tail(&log, 30));
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its log (for failure messages).
    pub fn log(&self) -> String {
        tail(&self.log, 30)
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }
}
