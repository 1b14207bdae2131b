//! A private InspIRCd 3 on a free loopback port.

use super::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Debian's `inspircd` package puts the daemon here.
pub const INSPIRCD_BIN: &str = "/usr/sbin/inspircd";
const INSPIRCD_HINT: &str = "run scripts/install-deps.sh (installs Debian's inspircd 3)";
const INSPIRCD_TEMPLATE: &str = include_str!("../support/inspircd.conf.in");
/// How often `Inspircd::start` tries a new port when the one it picked was taken meanwhile.
const PORT_ATTEMPTS: usize = 3;

/// Printed on stdout once the server has loaded its config and bound its listeners.
const RUNNING: &str = "InspIRCd is now running";
/// Printed on stdout when a `<bind>` failed. InspIRCd then keeps running without the
/// listener, so this must be caught before anything connects to "its" port.
const BIND_FAILED: &str = "listeners failed to bind";

/// A private InspIRCd 3 for one test (config `tests/support/inspircd.conf.in`): server
/// `irc.test`, network `testnet`, plaintext clients on 127.0.0.1 only, no flood limits,
/// operator `oper`/`operpass`. Files live in `<workdir>/inspircd/`: `inspircd.conf`,
/// `motd.txt`, `inspircd.log` (its console, appended across restarts) and `ircd.log` (its own
/// log file).
pub struct Inspircd {
    dir: PathBuf,
    /// The server's name (`irc.test`, or another for a second server of a linked pair).
    name: String,
    /// Server link blocks (empty for a server alone).
    links: String,
    config: PathBuf,
    log: PathBuf,
    ircd_log: PathBuf,
    port: u16,
    tls_port: u16,
    child: Option<Child>,
}

impl Inspircd {
    /// Writes the config and starts InspIRCd; returns once it listens on its port.
    pub fn start(workdir: &Path) -> Inspircd {
        Self::start_as(workdir, "inspircd", "irc.test", String::new())
    }

    /// Two servers of one network, `irc.test` and `irc2.test`, that may link: an operator
    /// on `irc.test` links them with `CONNECT irc2.test` and splits them with
    /// `SQUIT irc2.test :why` (nothing links them by itself: a retry while the other side
    /// has not yet seen the split is refused, "already exists").
    pub fn start_linked(workdir: &Path) -> (Inspircd, Inspircd) {
        let port_a = free_port();
        let port_b = loop {
            let port = free_port();
            if port != port_a {
                break port;
            }
        };
        let link = |me: u16, other: &str, other_port: u16| {
            format!(
                "<module name=\"spanningtree\">\n\
                 <bind address=\"127.0.0.1\" port=\"{me}\" type=\"servers\">\n\
                 <link name=\"{other}\" ipaddr=\"127.0.0.1\" port=\"{other_port}\" allowmask=\"127.0.0.1\" \
                 sendpass=\"linkpass\" recvpass=\"linkpass\" timeout=\"5s\">\n"
            )
        };
        let b = Self::start_as(
            workdir,
            "inspircd2",
            "irc2.test",
            link(port_b, "irc.test", port_a),
        );
        let a = Self::start_as(
            workdir,
            "inspircd",
            "irc.test",
            link(port_a, "irc2.test", port_b),
        );
        (a, b)
    }

    fn start_as(workdir: &Path, dir_name: &str, name: &str, links: String) -> Inspircd {
        if !Path::new(INSPIRCD_BIN).exists() {
            panic!("{INSPIRCD_BIN} is not installed: {INSPIRCD_HINT}");
        }
        let dir = workdir.join(dir_name);
        fs::create_dir_all(&dir).expect("create the InspIRCd directory");
        fs::write(
            dir.join("motd.txt"),
            "Switchboard test network.\nNothing here is kept.\n",
        )
        .expect("write motd.txt");
        let mut ircd = Inspircd {
            config: dir.join("inspircd.conf"),
            log: dir.join("inspircd.log"),
            ircd_log: dir.join("ircd.log"),
            dir,
            name: name.to_string(),
            links,
            port: 0,
            tls_port: 0,
            child: None,
        };
        ircd.make_certificate();
        // A port found free can be taken again before InspIRCd binds it (by another test's
        // server, or as the source port of some connection): then try another one.
        for _ in 0..PORT_ATTEMPTS {
            ircd.pick_port_and_write_config();
            if ircd.spawn() {
                return ircd;
            }
        }
        panic!(
            "InspIRCd could not listen on a free port {PORT_ATTEMPTS} times\n{}",
            tail(&ircd.log, 30)
        );
    }

    /// A self-signed certificate for `localhost`/127.0.0.1 (for the TLS port).
    fn make_certificate(&self) {
        let tls = self.dir.join("tls");
        fs::create_dir_all(&tls).expect("create the TLS directory");
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
            ])
            .args([
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(tls.join("key.pem"))
            .arg("-out")
            .arg(tls.join("cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run openssl (scripts/install-deps.sh installs it)");
        assert!(
            status.success(),
            "openssl could not make a test certificate"
        );
    }

    fn pick_port_and_write_config(&mut self) {
        self.port = free_port();
        self.tls_port = loop {
            let port = free_port();
            if port != self.port {
                break port;
            }
        };
        let config_text = INSPIRCD_TEMPLATE
            .replace("@DIR@", &self.dir.to_string_lossy())
            .replace("@PORT@", &self.port.to_string())
            .replace("@TLS_PORT@", &self.tls_port.to_string())
            .replace("@NAME@", &self.name)
            .replace("@LINKS@", &self.links);
        fs::write(&self.config, config_text).expect("write inspircd.conf");
    }

    /// Starts the process and waits until it runs with its listener bound. `false` (and
    /// killed again) when the port was taken; panics on any other failure.
    fn spawn(&mut self) -> bool {
        // The console log is appended across restarts: only look at what this run writes.
        let offset = file_len(&self.log);
        let (stdout, stderr) = stdout_stderr_log(&self.log);
        let child = spawn_or_explain(
            Command::new(INSPIRCD_BIN)
                .arg("--config")
                .arg(&self.config)
                .args(["--nofork", "--runasroot"])
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr),
            "inspircd",
        );
        // Stored before waiting, so that a panic below still kills it (Drop).
        self.child = Some(child);

        let child = self.child.as_mut().expect("just spawned");
        let (log, ircd_log) = (self.log.clone(), self.ircd_log.clone());
        let details = || format!("{}\n{}", tail(&log, 30), tail(&ircd_log, 20));
        match wait_started(
            child,
            &self.log,
            offset,
            RUNNING,
            BIND_FAILED,
            "InspIRCd",
            &details,
        ) {
            Start::Ready => true,
            Start::PortTaken => {
                self.kill9();
                false
            }
        }
    }

    /// The TLS client port on 127.0.0.1 (a self-signed certificate for localhost).
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// The plaintext client port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The console output (stdout and stderr), appended across restarts.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// InspIRCd's own log file (`<log>` in the config: connections, opers, errors).
    pub fn ircd_log_path(&self) -> &Path {
        &self.ircd_log
    }

    /// Everything InspIRCd logged to its own log file so far.
    pub fn log(&self) -> String {
        read_from(&self.ircd_log, 0)
    }

    /// SIGTERM (clients get an `ERROR` and are disconnected), then SIGKILL if it has not
    /// exited within 10 s. Does nothing when stopped.
    pub fn stop(&mut self) {
        terminate(self.child.take());
    }

    /// SIGKILL (a crash: clients see their connection reset). `restart()` brings it back.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }

    /// Stops InspIRCd (if running) and starts it again with the same config and port;
    /// returns once it listens again. All channels and users are gone afterwards.
    pub fn restart(&mut self) {
        self.stop();
        if !self.spawn() {
            panic!(
                "InspIRCd could not listen on its port {} again\n{}",
                self.port,
                tail(&self.log, 30)
            );
        }
    }
}

impl Drop for Inspircd {
    fn drop(&mut self) {
        self.kill9();
    }
}
