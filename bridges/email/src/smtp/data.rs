//! The DATA phase: bytes in (as they arrive, split anywhere), the complete message out.
//!
//! Lines end at CRLF only. A bare CR or LF is a data byte and never ends a line, so the
//! terminator is exactly `CRLF.CRLF` (no `LF.LF` or `LF.CRLF` "SMTP smuggling"), and a
//! leading dot is removed from every line that has one (RFC 5321 §4.5.2). The message is
//! stored with CRLF line ends. Memory is bounded: once the message passes its limit, or a
//! line passes [`MAX_DATA_LINE`], the rest is counted and dropped until the terminator,
//! and the outcome says why it is refused.

use super::MAX_DATA_LINE;

/// What the DATA phase produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataOutcome {
    /// The message, dot-unstuffed, with CRLF line ends.
    Message(Vec<u8>),
    /// The message was longer than the limit; `size` is how long it was.
    TooBig {
        /// Octets of the message after unstuffing.
        size: u64,
    },
    /// A line was longer than [`MAX_DATA_LINE`] octets, CRLF included.
    LineTooLong,
}

/// Reads one message from the data stream after the `354` reply.
#[derive(Debug)]
pub struct DataReader {
    max_bytes: u64,
    message: Vec<u8>,
    size: u64,
    /// The current line as received (dot included), kept up to the line limit.
    line: Vec<u8>,
    line_overflow: bool,
    any_line_too_long: bool,
    pending_cr: bool,
}

impl DataReader {
    /// A reader that takes messages of at most `max_bytes` octets.
    pub fn new(max_bytes: u64) -> Self {
        DataReader {
            max_bytes,
            message: Vec::new(),
            size: 0,
            line: Vec::with_capacity(MAX_DATA_LINE),
            line_overflow: false,
            any_line_too_long: false,
            pending_cr: false,
        }
    }

    /// Octets of message taken so far (after unstuffing).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Feeds received bytes. Returns `None` while the terminator has not been seen (all of
    /// `input` was taken), or the outcome and how many bytes of `input` it used: the
    /// bytes after them are the next commands (a pipelining client may send QUIT at once).
    pub fn feed(&mut self, input: &[u8]) -> Option<(DataOutcome, usize)> {
        for (i, &b) in input.iter().enumerate() {
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    if self.end_of_line() {
                        return Some((self.outcome(), i + 1));
                    }
                    continue;
                }
                self.push(b'\r');
            }
            if b == b'\r' {
                self.pending_cr = true;
            } else {
                self.push(b);
            }
        }
        None
    }

    fn push(&mut self, b: u8) {
        if self.line.len() + 2 < MAX_DATA_LINE {
            self.line.push(b);
        } else {
            self.line_overflow = true;
        }
    }

    /// Handles a complete line; true at the terminator.
    fn end_of_line(&mut self) -> bool {
        if !self.line_overflow && self.line == b"." {
            return true;
        }
        if self.line_overflow {
            self.any_line_too_long = true;
        }
        let content = self.line.strip_prefix(b".").unwrap_or(&self.line);
        // An overflowing line counts what was kept: it is refused anyway.
        self.size = self.size.saturating_add(content.len() as u64 + 2);
        if self.size <= self.max_bytes && !self.any_line_too_long {
            self.message.extend_from_slice(content);
            self.message.extend_from_slice(b"\r\n");
        } else if !self.message.is_empty() {
            self.message = Vec::new();
        }
        self.line.clear();
        self.line_overflow = false;
        false
    }

    fn outcome(&mut self) -> DataOutcome {
        if self.size > self.max_bytes {
            DataOutcome::TooBig { size: self.size }
        } else if self.any_line_too_long {
            DataOutcome::LineTooLong
        } else {
            DataOutcome::Message(std::mem::take(&mut self.message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(max: u64, input: &[u8]) -> Option<(DataOutcome, usize)> {
        DataReader::new(max).feed(input)
    }

    #[test]
    fn terminator_and_dot_unstuffing() {
        let input = b"Subject: hi\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n";
        let (outcome, used) = read_all(1000, input).unwrap();
        assert_eq!(
            outcome,
            DataOutcome::Message(b"Subject: hi\r\n\r\n.leading dot\r\n".to_vec())
        );
        assert_eq!(&input[used..], b"QUIT\r\n");
        // An empty message.
        assert_eq!(
            read_all(10, b".\r\n"),
            Some((DataOutcome::Message(vec![]), 3))
        );
        // Only a whole line of "." ends the message.
        let (outcome, _) = read_all(100, b"a.\r\n. \r\n.x\r\n.\r\n").unwrap();
        assert_eq!(outcome, DataOutcome::Message(b"a.\r\n \r\nx\r\n".to_vec()));
    }

    #[test]
    fn bare_line_feeds_do_not_end_lines_or_the_message() {
        let mut reader = DataReader::new(1000);
        assert_eq!(reader.feed(b"a\n.\nb\r\n\n.\r\nc\r.\r\n"), None);
        let (outcome, _) = reader.feed(b"\r\n.\r\n").unwrap();
        assert_eq!(
            outcome,
            DataOutcome::Message(b"a\n.\nb\r\n\n.\r\nc\r.\r\n\r\n".to_vec())
        );
    }

    #[test]
    fn input_split_anywhere_gives_the_same_message() {
        let input = b"From: a@b.c\r\n\r\n..x\r\nline\r\r\n.\r\nNOOP\r\n";
        let (whole, used_whole) = read_all(1000, input).unwrap();
        for cut in 0..input.len() {
            for cut2 in cut..input.len() {
                let mut reader = DataReader::new(1000);
                let mut done = None;
                let mut offset = 0;
                for part in [&input[..cut], &input[cut..cut2], &input[cut2..]] {
                    if done.is_none() {
                        if let Some((o, used)) = reader.feed(part) {
                            done = Some((o, offset + used));
                        }
                    }
                    offset += part.len();
                }
                assert_eq!(done, Some((whole.clone(), used_whole)), "cuts {cut} {cut2}");
            }
        }
    }

    #[test]
    fn oversize_messages_are_read_to_the_end_and_refused() {
        let mut reader = DataReader::new(20);
        for _ in 0..1000 {
            assert_eq!(reader.feed(b"0123456789\r\n"), None);
        }
        assert!(reader.message.capacity() < 100, "kept what it refuses");
        let (outcome, used) = reader.feed(b".\r\nQUIT\r\n").unwrap();
        assert_eq!(outcome, DataOutcome::TooBig { size: 12_000 });
        assert_eq!(used, 3);
        // Exactly at the limit is fine.
        let (outcome, _) = read_all(12, b"0123456789\r\n.\r\n").unwrap();
        assert_eq!(outcome, DataOutcome::Message(b"0123456789\r\n".to_vec()));
    }

    #[test]
    fn long_lines_are_refused_after_the_terminator() {
        let ok = [vec![b'x'; MAX_DATA_LINE - 2], b"\r\n.\r\n".to_vec()].concat();
        assert!(matches!(
            read_all(1 << 20, &ok),
            Some((DataOutcome::Message(_), _))
        ));
        let long = [vec![b'x'; MAX_DATA_LINE - 1], b"\r\n".to_vec()].concat();
        let mut reader = DataReader::new(1 << 20);
        for _ in 0..100 {
            assert_eq!(reader.feed(&long), None);
        }
        assert!(reader.line.capacity() <= MAX_DATA_LINE);
        assert_eq!(
            reader.feed(b".\r\n").map(|o| o.0),
            Some(DataOutcome::LineTooLong)
        );
        // A long line that starts with a dot is not the terminator.
        let dotted = [b".".to_vec(), vec![b'x'; 2000], b"\r\n.\r\n".to_vec()].concat();
        let (outcome, used) = read_all(1 << 20, &dotted).unwrap();
        assert_eq!((outcome, used), (DataOutcome::LineTooLong, dotted.len()));
    }
}
