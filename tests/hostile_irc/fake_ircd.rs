//! Small fake IRC servers for the hostile tests: a listener on 127.0.0.1:0 whose every
//! accepted connection runs a behaviour of the test's on a thread of its own. Every loop
//! in a behaviour is bounded in time; all end when the server is dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// What a behaviour gets: the connection and the stop flag.
pub struct Conn {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
    pub stop: Arc<AtomicBool>,
    /// The nick the client registered with (after [`Conn::register`]).
    pub nick: String,
}

impl Conn {
    /// Reads until the client sent NICK and USER; remembers the nick.
    pub fn register(&mut self) -> bool {
        let (mut nick, mut user) = (None, false);
        let deadline = Instant::now() + Duration::from_secs(20);
        while (nick.is_none() || !user) && Instant::now() < deadline {
            let Some(line) = self.line() else {
                return false;
            };
            let mut words = line.split_whitespace();
            match words.next() {
                Some("NICK") => nick = words.next().map(str::to_string),
                Some("USER") => user = true,
                _ => {}
            }
        }
        match nick {
            Some(n) => {
                self.nick = n;
                true
            }
            None => false,
        }
    }

    /// The next line from the client, `None` when closed or stopping.
    pub fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) if line.ends_with('\n') => {
                    return Some(line.trim_end_matches(['\r', '\n']).to_string())
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return None,
            }
        }
    }

    /// Waits (20 s at most) for a line starting with `prefix`.
    pub fn wait_for(&mut self, prefix: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let line = self.line()?;
            if line.starts_with(prefix) {
                return Some(line);
            }
        }
        None
    }

    /// Writes lines (each gets CR LF); false when the write failed or timed out.
    pub fn send(&mut self, lines: &[String]) -> bool {
        let mut out = String::new();
        for l in lines {
            out.push_str(l);
            out.push_str("\r\n");
        }
        self.writer.write_all(out.as_bytes()).is_ok()
    }

    /// 001, then the client's JOIN of `channel` answered with JOIN, NAMES and 366.
    pub fn welcome_and_join(&mut self, channel: &str, names: &str) -> bool {
        let nick = self.nick.clone();
        if !self.send(&[format!(":fake.test 001 {nick} :Welcome")]) {
            return false;
        }
        if self.wait_for(&format!("JOIN {channel}")).is_none() {
            return false;
        }
        self.send(&[
            format!(":{nick}!u@fake.test JOIN {channel}"),
            format!(":fake.test 353 {nick} = {channel} :{nick} {names}"),
            format!(":fake.test 366 {nick} {channel} :End of /NAMES list."),
        ])
    }
}

/// A fake IRC server; stops (and ends every connection's behaviour) when dropped.
pub struct FakeIrcd {
    pub port: u16,
    pub accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeIrcd {
    pub fn start(behave: impl Fn(Conn) + Send + Sync + 'static) -> FakeIrcd {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a fake IRC server");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let behave = Arc::new(behave);
        let (count, halt) = (accepted.clone(), stop.clone());
        thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        stream.set_nonblocking(false).ok();
                        // Reads wake up now and then to see the stop flag; writes give
                        // up after a while (a client that stopped reading).
                        stream
                            .set_read_timeout(Some(Duration::from_millis(200)))
                            .ok();
                        stream.set_write_timeout(Some(Duration::from_secs(2))).ok();
                        let conn = Conn {
                            reader: BufReader::new(stream.try_clone().unwrap()),
                            writer: stream,
                            stop: halt.clone(),
                            nick: String::new(),
                        };
                        let behave = behave.clone();
                        thread::spawn(move || behave(conn));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        FakeIrcd {
            port,
            accepted,
            stop,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for FakeIrcd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
