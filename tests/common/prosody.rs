//! A private Prosody on free loopback ports.

use super::*;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A private Prosody 0.12 for one test: loopback only, free ports, plaintext c2s, the
/// VirtualHosts `localhost` and `other.localhost`, and the given XEP-0114 components.
/// Files live in `<workdir>/prosody/` (`prosody.cfg.lua`, `data/`, `prosody.log`).
pub struct Prosody {
    dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    data: PathBuf,
    /// The rendered `Component` blocks of the config.
    components: String,
    c2s_port: u16,
    component_port: u16,
    child: Option<Child>,
}

/// How often `Prosody::start` tries new ports when the ones it picked were taken meanwhile.
const PORT_ATTEMPTS: usize = 3;

impl Prosody {
    /// Writes the config, registers `users` as `(user, host, password)` and starts Prosody;
    /// returns once c2s is listening. `components` are `(domain, secret)` pairs.
    pub fn start(
        workdir: &Path,
        components: &[(&str, &str)],
        users: &[(&str, &str, &str)],
    ) -> Prosody {
        let dir = workdir.join("prosody");
        let data = dir.join("data");
        fs::create_dir_all(&data).expect("create the Prosody data directory");
        fs::create_dir_all(dir.join("certs")).expect("create the Prosody certs directory");
        let components = components
            .iter()
            .map(|(domain, secret)| {
                format!(
                    "Component {}\n    component_secret = {}\n\n",
                    lua_string(domain),
                    lua_string(secret)
                )
            })
            .collect();
        let mut prosody = Prosody {
            config: dir.join("prosody.cfg.lua"),
            log: dir.join("prosody.log"),
            dir,
            data,
            components,
            c2s_port: 0,
            component_port: 0,
            child: None,
        };
        prosody.pick_ports_and_write_config();
        for (user, host, password) in users {
            prosody.register(user, host, password);
        }
        // A port found free can be taken again before Prosody binds it (by another test's
        // server, or as the source port of some connection): then try other ports.
        for _ in 1..PORT_ATTEMPTS {
            if prosody.spawn() {
                return prosody;
            }
            prosody.pick_ports_and_write_config();
        }
        if !prosody.spawn() {
            panic!(
                "Prosody could not listen on free ports {PORT_ATTEMPTS} times\n{}",
                tail(&prosody.log, 40)
            );
        }
        prosody
    }

    fn pick_ports_and_write_config(&mut self) {
        self.c2s_port = free_port();
        self.component_port = loop {
            let port = free_port();
            if port != self.c2s_port {
                break port;
            }
        };
        let config_text = PROSODY_TEMPLATE
            .replace("@DATA_DIR@", &lua_string(&self.data.to_string_lossy()))
            .replace("@C2S_PORT@", &self.c2s_port.to_string())
            .replace("@COMPONENT_PORT@", &self.component_port.to_string())
            .replace("@COMPONENTS@", &self.components);
        fs::write(&self.config, config_text).expect("write prosody.cfg.lua");
    }

    /// Registers (or re-registers) an account with `prosodyctl`; works while Prosody runs.
    pub fn register(&self, user: &str, host: &str, password: &str) {
        let output = Command::new("prosodyctl")
            .arg("--config")
            .arg(&self.config)
            .args(["register", user, host, password])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    panic!("prosodyctl is not installed ({e}): {INSTALL_HINT}");
                }
                panic!("cannot run prosodyctl: {e}")
            });
        assert!(
            output.status.success(),
            "prosodyctl register {user} {host} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the process and waits for the c2s listener of this run. `false` (and stopped
    /// again) when a port was taken; panics on any other failure.
    fn spawn(&mut self) -> bool {
        // The log is appended across restarts: only look at what this run writes.
        let offset = file_len(&self.log);
        let (stdout, stderr) = stdout_stderr_log(&self.log);
        let child = spawn_or_explain(
            Command::new("prosody")
                .arg("-F")
                .arg("--config")
                .arg(&self.config)
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr),
            "prosody",
        );
        // Stored before waiting, so that a panic below still kills it (Drop).
        self.child = Some(child);

        // The component listener comes up before c2s, so c2s is the signal that all is ready.
        let ready = format!("Activated service 'c2s' on [127.0.0.1]:{}", self.c2s_port);
        let child = self.child.as_mut().expect("just spawned");
        let log = self.log.clone();
        match wait_started(
            child,
            &self.log,
            offset,
            &ready,
            "Failed to open server port",
            "Prosody",
            &|| tail(&log, 40),
        ) {
            Start::Ready => true,
            Start::PortTaken => {
                self.kill9();
                false
            }
        }
    }

    /// The client-to-server port (plaintext, 127.0.0.1).
    pub fn c2s_port(&self) -> u16 {
        self.c2s_port
    }

    /// The XEP-0114 component port (127.0.0.1).
    pub fn component_port(&self) -> u16 {
        self.component_port
    }

    /// `127.0.0.1:<component port>`, for the gateway's `xmpp.server`.
    pub fn component_addr(&self) -> String {
        format!("127.0.0.1:{}", self.component_port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything Prosody logged so far, across restarts.
    pub fn log(&self) -> String {
        read_from(&self.log, 0)
    }

    /// SIGTERM, then SIGKILL if it has not exited within 10 s. Does nothing when stopped.
    pub fn stop(&mut self) {
        terminate(self.child.take());
    }

    /// SIGKILL (a crash). `restart()` brings it back.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }

    /// Stops Prosody (if running) and starts it again with the same config, data and ports;
    /// returns once c2s is listening again.
    pub fn restart(&mut self) {
        self.stop();
        if !self.spawn() {
            panic!(
                "Prosody could not listen on its ports again\n{}",
                tail(&self.log, 40)
            );
        }
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        self.kill9();
    }
}
