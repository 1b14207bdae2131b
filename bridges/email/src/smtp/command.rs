//! One SMTP command line (without its CRLF) → [`Command`].
//!
//! Strict by design: paths must be in angle brackets, addresses are plain ASCII dot-atoms
//! (no quoted local parts) at a host name or an address literal, at most
//! [`MAX_PATH`](super::MAX_PATH) octets; the only ESMTP parameters taken are `SIZE=` and
//! `BODY=` on MAIL, anything else is `555`. A source route (`<@a,@b:user@host>`) is
//! dropped as RFC 5321 §4.1.1.3 asks, and `RCPT TO:<postmaster>` is taken without a domain.
//! Tolerated: lower-case verbs, one or more spaces after `FROM:`/`TO:`, trailing spaces.

use super::reply::excerpt;
use super::MAX_PATH;
use thiserror::Error;

/// Longest verb taken (longer ones are a syntax error).
const MAX_VERB: usize = 16;
/// Longest EHLO/HELO argument (a domain is at most 255 octets).
const MAX_DOMAIN: usize = 255;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain` (the argument as given: printable ASCII, bounded).
    Ehlo(String),
    /// `HELO domain`.
    Helo(String),
    /// `MAIL FROM:<path> [SIZE=n] [BODY=7BIT|8BITMIME]`.
    MailFrom {
        /// The reverse-path; `""` for the null sender `<>`.
        path: String,
        /// The size the client declared (RFC 1870), if it did.
        size: Option<u64>,
    },
    /// `RCPT TO:<path>`.
    RcptTo(String),
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `VRFY string` (answered `252`, never looked up).
    Vrfy,
    /// Any other verb: upper case, letters only, at most 16.
    Unknown(String),
}

/// Why a line is not a command we take; [`ParseError::code`] is the reply code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Not a command at all: empty, or the verb is not letters. (500)
    #[error("Syntax error, command unrecognized")]
    Syntax,
    /// The arguments do not fit the command. (501)
    #[error("Syntax error in parameters or arguments: {0}")]
    Arguments(&'static str),
    /// A path longer than [`MAX_PATH`](super::MAX_PATH). (501)
    #[error("Path too long")]
    PathTooLong,
    /// An ESMTP parameter we do not support (bounded, printable excerpt). (555)
    #[error("Parameter {0} not recognized or not implemented")]
    UnknownParameter(String),
}

impl ParseError {
    /// The reply code for this error.
    pub fn code(&self) -> u16 {
        match self {
            ParseError::Syntax => 500,
            ParseError::Arguments(_) | ParseError::PathTooLong => 501,
            ParseError::UnknownParameter(_) => 555,
        }
    }
}

impl Command {
    /// Parses one line (CR LF already removed; a trailing CR is tolerated).
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let verb_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
        let verb = &line[..verb_end];
        if verb.is_empty() || verb.len() > MAX_VERB || !verb.iter().all(u8::is_ascii_alphabetic) {
            return Err(ParseError::Syntax);
        }
        let verb = verb.to_ascii_uppercase();
        let rest = &line[verb_end..];
        if !rest.iter().all(|&b| b == b' ' || b.is_ascii_graphic()) {
            return Err(ParseError::Arguments("only printable ASCII is taken"));
        }
        // Printable ASCII: valid UTF-8.
        let args = std::str::from_utf8(rest)
            .map_err(|_| ParseError::Syntax)?
            .trim_matches(' ');
        match verb.as_slice() {
            b"EHLO" => Ok(Command::Ehlo(domain_arg(args)?)),
            b"HELO" => Ok(Command::Helo(domain_arg(args)?)),
            b"MAIL" => mail_from(args),
            b"RCPT" => rcpt_to(args),
            b"DATA" => no_args(args, Command::Data),
            b"RSET" => no_args(args, Command::Rset),
            b"QUIT" => no_args(args, Command::Quit),
            b"STARTTLS" => no_args(args, Command::StartTls),
            b"NOOP" => Ok(Command::Noop),
            b"VRFY" if args.is_empty() => Err(ParseError::Arguments("VRFY needs an argument")),
            b"VRFY" => Ok(Command::Vrfy),
            _ => Ok(Command::Unknown(
                String::from_utf8_lossy(&verb).into_owned(),
            )),
        }
    }
}

fn no_args(args: &str, command: Command) -> Result<Command, ParseError> {
    if args.is_empty() {
        Ok(command)
    } else {
        Err(ParseError::Arguments("this command takes no arguments"))
    }
}

fn domain_arg(args: &str) -> Result<String, ParseError> {
    if args.is_empty() {
        return Err(ParseError::Arguments("a domain is required"));
    }
    if args.contains(' ') || args.len() > MAX_DOMAIN {
        return Err(ParseError::Arguments("one domain is expected"));
    }
    Ok(excerpt(args.as_bytes(), MAX_DOMAIN))
}

/// Splits `KEYWORD:<path> params` after the verb into the path and its parameters.
fn path_and_params<'a>(args: &'a str, keyword: &str) -> Result<(&'a str, &'a str), ParseError> {
    let rest = match args.get(..keyword.len()) {
        Some(k) if k.eq_ignore_ascii_case(keyword) => &args[keyword.len()..],
        _ => return Err(ParseError::Arguments("expected FROM:<path> or TO:<path>")),
    };
    let rest = rest.trim_start_matches(' ');
    let Some(rest) = rest.strip_prefix('<') else {
        return Err(ParseError::Arguments("the path must be in angle brackets"));
    };
    let Some(close) = rest.find('>') else {
        return Err(ParseError::Arguments("the path must be in angle brackets"));
    };
    let (path, params) = (&rest[..close], &rest[close + 1..]);
    if !(params.is_empty() || params.starts_with(' ')) {
        return Err(ParseError::Arguments("a space must follow the path"));
    }
    if path.len() > MAX_PATH {
        return Err(ParseError::PathTooLong);
    }
    Ok((path, params))
}

fn mail_from(args: &str) -> Result<Command, ParseError> {
    let (path, params) = path_and_params(args, "FROM:")?;
    let path = if path.is_empty() {
        String::new()
    } else {
        mailbox(path, false)?
    };
    let mut size = None;
    let mut body = false;
    for param in params.split(' ').filter(|p| !p.is_empty()) {
        let (key, value) = parameter(param)?;
        if key.eq_ignore_ascii_case("SIZE") {
            let digits = value.filter(|v| {
                !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit())
            });
            let parsed = digits.and_then(|v| v.parse::<u64>().ok());
            match (size, parsed) {
                (None, Some(n)) => size = Some(n),
                (Some(_), _) => return Err(ParseError::Arguments("SIZE given twice")),
                (None, None) => return Err(ParseError::Arguments("SIZE needs a number")),
            }
        } else if key.eq_ignore_ascii_case("BODY") {
            let ok = value.is_some_and(|v| {
                v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME")
            });
            if !ok || body {
                return Err(ParseError::Arguments("BODY is 7BIT or 8BITMIME, once"));
            }
            body = true;
        } else {
            return Err(ParseError::UnknownParameter(excerpt(key.as_bytes(), 32)));
        }
    }
    Ok(Command::MailFrom { path, size })
}

fn rcpt_to(args: &str) -> Result<Command, ParseError> {
    let (path, params) = path_and_params(args, "TO:")?;
    if let Some(param) = params.split(' ').find(|p| !p.is_empty()) {
        let (key, _) = parameter(param)?;
        return Err(ParseError::UnknownParameter(excerpt(key.as_bytes(), 32)));
    }
    if path.is_empty() {
        return Err(ParseError::Arguments("the null path is not a recipient"));
    }
    Ok(Command::RcptTo(mailbox(path, true)?))
}

/// `keyword[=value]` (RFC 5321 §4.1.2 esmtp-param).
fn parameter(param: &str) -> Result<(&str, Option<&str>), ParseError> {
    let (key, value) = match param.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (param, None),
    };
    let key_ok = key
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let value_ok = value.is_none_or(|v| !v.is_empty() && !v.contains('='));
    if key_ok && value_ok {
        Ok((key, value))
    } else {
        Err(ParseError::Arguments("malformed ESMTP parameter"))
    }
}

/// Checks a path's mailbox: drops a source route, then `local@domain` with a dot-atom
/// local part and a host name or address literal; `postmaster` alone if `postmaster_ok`.
fn mailbox(path: &str, postmaster_ok: bool) -> Result<String, ParseError> {
    let path = match path.strip_prefix('@') {
        Some(route) => match route.split_once(':') {
            Some((_, mailbox)) => mailbox,
            None => return Err(ParseError::Arguments("malformed source route")),
        },
        None => path,
    };
    if postmaster_ok && path.eq_ignore_ascii_case("postmaster") {
        return Ok(path.to_string());
    }
    let Some((local, domain)) = path.rsplit_once('@') else {
        return Err(ParseError::Arguments("the address has no domain"));
    };
    if local.starts_with('"') {
        return Err(ParseError::Arguments("quoted local parts are not accepted"));
    }
    let local_ok = !local.is_empty()
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b))
        });
    if !local_ok {
        return Err(ParseError::Arguments("malformed local part"));
    }
    let host_ok = !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let literal_ok = domain.len() > 2
        && domain.starts_with('[')
        && domain.ends_with(']')
        && domain[1..domain.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:-".contains(&b));
    if !(host_ok || literal_ok) {
        return Err(ParseError::Arguments("malformed domain"));
    }
    Ok(path.to_string())
}
