//! A Twilio-shaped HTTP endpoint standing in for api.twilio.com (the Messages API the gateway
//! calls), and the webhooks Twilio sends to the gateway (signed with X-Twilio-Signature).
//! Plain blocking HTTP/1.1 on std sockets: a thread per connection, `Connection: close`.

use super::kannel_smsc::gsm_septets;
#[allow(unused_imports)]
pub use super::twilio_http::{
    accept_one, form_decode, form_encode, http_get_url, http_request, post_form, read_request,
    respond, HttpRequest,
};
use base64::Engine;
use hmac::{Hmac, Mac};
use std::collections::VecDeque;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A message the fake accepted (`POST …/Messages.json` answered 201).
#[derive(Clone, Debug)]
pub struct TwilioMessage {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    pub media_urls: Vec<String>,
    pub status_callback: Option<String>,
    /// Every form field as sent, in order.
    pub form: Vec<(String, String)>,
}

#[derive(Default)]
struct State {
    failures: VecDeque<(u16, String)>,
    delay: Duration,
    messages: Vec<TwilioMessage>,
    attempts: usize,
}

struct Inner {
    account_sid: String,
    auth_token: String,
    state: Mutex<State>,
    changed: Condvar,
}

/// The fake Messages API on 127.0.0.1 (a free port). It checks HTTP Basic `sid:token` (401,
/// code 20003) and the account in the path (404, code 20404), requires To, From (or
/// MessagingServiceSid) and Body or MediaUrl (400, codes 21604/21603/21602), then plays the
/// scripted failures before accepting.
pub struct FakeTwilio {
    inner: Arc<Inner>,
    port: u16,
    stopping: Arc<AtomicBool>,
}

impl FakeTwilio {
    pub fn start(account_sid: &str, auth_token: &str) -> FakeTwilio {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake Twilio");
        let port = listener.local_addr().expect("local address").port();
        let inner = Arc::new(Inner {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            state: Mutex::default(),
            changed: Condvar::new(),
        });
        let stopping = Arc::new(AtomicBool::new(false));
        let (for_thread, stop) = (inner.clone(), stopping.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let inner = for_thread.clone();
                thread::spawn(move || {
                    if let Err(e) = serve(&inner, stream) {
                        eprintln!("fake Twilio: {e}");
                    }
                });
            }
        });
        FakeTwilio {
            inner,
            port,
            stopping,
        }
    }

    /// `http://127.0.0.1:PORT`, the stand-in for `https://api.twilio.com`.
    pub fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The next `n` authenticated sends get `status` and `body` (JSON) instead of a 201, in
    /// the order scripted.
    pub fn fail_next(&self, n: usize, status: u16, body: &str) {
        let mut state = self.inner.state.lock().unwrap();
        state
            .failures
            .extend((0..n).map(|_| (status, body.to_owned())));
    }

    /// Every answer comes this late.
    pub fn set_delay(&self, delay: Duration) {
        self.inner.state.lock().unwrap().delay = delay;
    }

    /// The accepted messages so far.
    pub fn messages(&self) -> Vec<TwilioMessage> {
        self.inner.state.lock().unwrap().messages.clone()
    }

    /// Every POST so far, refused ones included.
    pub fn attempts(&self) -> usize {
        self.inner.state.lock().unwrap().attempts
    }

    /// Waits until at least `n` messages were accepted; returns them all. Panics with what
    /// came on timeout.
    pub fn wait_messages(&self, n: usize, timeout: Duration) -> Vec<TwilioMessage> {
        let deadline = Instant::now() + timeout;
        let mut state = self.inner.state.lock().unwrap();
        while state.messages.len() < n {
            let now = Instant::now();
            if now >= deadline {
                panic!(
                    "fake Twilio: {} of {n} messages within {timeout:?} ({} attempts): {:#?}",
                    state.messages.len(),
                    state.attempts,
                    state.messages
                );
            }
            state = self
                .inner
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap()
                .0;
        }
        state.messages.clone()
    }

    /// Twilio's inbound-message webhook (a phone texted `to`), signed, posted to `url`.
    /// `media` lists (URL, content type) pairs.
    pub fn send_inbound(
        &self,
        url: &str,
        from: &str,
        to: &str,
        body: &str,
        media: &[(&str, &str)],
    ) -> (u16, String) {
        let sid = new_sid("SM");
        let mut params = vec![
            ("MessageSid", sid.clone()),
            ("SmsMessageSid", sid.clone()),
            ("SmsSid", sid),
            ("AccountSid", self.inner.account_sid.clone()),
            ("From", from.to_owned()),
            ("To", to.to_owned()),
            ("Body", body.to_owned()),
            ("NumMedia", media.len().to_string()),
            ("NumSegments", segments(body).to_string()),
            ("SmsStatus", "received".to_owned()),
            ("ApiVersion", "2010-04-01".to_owned()),
        ];
        let names: Vec<(String, String)> = (0..media.len())
            .map(|i| (format!("MediaUrl{i}"), format!("MediaContentType{i}")))
            .collect();
        for ((url_name, type_name), (media_url, content_type)) in names.iter().zip(media) {
            params.push((url_name.as_str(), media_url.to_string()));
            params.push((type_name.as_str(), content_type.to_string()));
        }
        self.post_signed(url, &params)
    }

    /// A text-only inbound webhook with a given `MessageSid`, signed: sending the same one
    /// twice is a replay (or Twilio retrying).
    #[allow(dead_code)]
    pub fn send_inbound_sid(
        &self,
        url: &str,
        sid: &str,
        from: &str,
        to: &str,
        body: &str,
    ) -> (u16, String) {
        let params = [
            ("MessageSid", sid.to_owned()),
            ("SmsSid", sid.to_owned()),
            ("AccountSid", self.inner.account_sid.clone()),
            ("From", from.to_owned()),
            ("To", to.to_owned()),
            ("Body", body.to_owned()),
            ("NumMedia", "0".to_owned()),
            ("SmsStatus", "received".to_owned()),
            ("ApiVersion", "2010-04-01".to_owned()),
        ];
        self.post_signed(url, &params)
    }

    /// Twilio's status callback for `msg` (to `msg.status_callback`), signed.
    pub fn send_status(
        &self,
        msg: &TwilioMessage,
        status: &str,
        error_code: Option<&str>,
    ) -> (u16, String) {
        let url = msg
            .status_callback
            .as_deref()
            .expect("the message has no StatusCallback");
        let mut params = vec![
            ("MessageSid", msg.sid.clone()),
            ("SmsSid", msg.sid.clone()),
            ("MessageStatus", status.to_owned()),
            ("SmsStatus", status.to_owned()),
            ("AccountSid", self.inner.account_sid.clone()),
            ("From", msg.from.clone()),
            ("To", msg.to.clone()),
            ("ApiVersion", "2010-04-01".to_owned()),
        ];
        if let Some(code) = error_code {
            params.push(("ErrorCode", code.to_owned()));
        }
        self.post_signed(url, &params)
    }

    fn post_signed(&self, url: &str, params: &[(&str, String)]) -> (u16, String) {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let signature = sign(&self.inner.auth_token, url, &params);
        post_form(url, &params, Some(&signature))
    }
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes the accept loop
    }
}

/// X-Twilio-Signature: base64(HMAC-SHA1(token, url + name + value for each parameter,
/// sorted by name then value, exact duplicates once)).
pub fn sign(auth_token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("any key");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The number of SMS segments Twilio would bill for `body` (GSM-7 or UCS-2).
pub fn segments(body: &str) -> usize {
    match gsm_septets(body) {
        Some(n) if n <= 160 => 1,
        Some(n) => n.div_ceil(153),
        None => match body.encode_utf16().count() {
            n if n <= 70 => 1,
            n => n.div_ceil(67),
        },
    }
}

fn new_sid(prefix: &str) -> String {
    format!("{prefix}{:032x}", rand::random::<u128>())
}

fn answer(stream: &mut TcpStream, status: u16, body: &str) -> io::Result<()> {
    respond(stream, status, "application/json", body)
}

fn error_json(code: u32, message: &str, status: u16) -> String {
    serde_json::json!({"code": code, "message": message, "status": status}).to_string()
}

/// One connection: one request, one answer.
fn serve(inner: &Inner, mut stream: TcpStream) -> io::Result<()> {
    let request = read_request(&mut stream)?;
    let (method, path) = (request.method.as_str(), request.target.as_str());
    let sid = path
        .strip_prefix("/2010-04-01/Accounts/")
        .and_then(|rest| rest.strip_suffix("/Messages.json"));
    let (Some(sid), "POST") = (sid, method) else {
        return answer(&mut stream, 404, &error_json(20404, "Not Found", 404));
    };
    let delay = {
        let mut state = inner.state.lock().unwrap();
        state.attempts += 1;
        state.delay
    };
    inner.changed.notify_all();
    thread::sleep(delay);
    let basic = format!("{}:{}", inner.account_sid, inner.auth_token);
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(basic)
    );
    if request.header("authorization") != Some(&expected) {
        return answer(&mut stream, 401, &error_json(20003, "Authenticate", 401));
    }
    if sid != inner.account_sid {
        let message = format!("The requested resource {path} was not found");
        return answer(&mut stream, 404, &error_json(20404, &message, 404));
    }
    let form = request.form();
    let field = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let media_urls: Vec<String> = form
        .iter()
        .filter(|(n, _)| n == "MediaUrl")
        .map(|(_, v)| v.clone())
        .collect();
    let problem = match (field("To"), field("From"), field("Body")) {
        (None, _, _) => Some((21604, "A 'To' phone number is required.")),
        (_, None, _) if field("MessagingServiceSid").is_none() => {
            Some((21603, "A 'From' phone number is required."))
        }
        (_, _, None) if media_urls.is_empty() => Some((21602, "Message body is required.")),
        _ => None,
    };
    if let Some((code, message)) = problem {
        return answer(&mut stream, 400, &error_json(code, message, 400));
    }
    let failure = inner.state.lock().unwrap().failures.pop_front();
    if let Some((status, body)) = failure {
        return answer(&mut stream, status, &body);
    }
    let message = TwilioMessage {
        sid: new_sid("SM"),
        to: field("To").unwrap_or_default(),
        from: field("From").unwrap_or_default(),
        body: field("Body").unwrap_or_default(),
        media_urls,
        status_callback: field("StatusCallback"),
        form: form.clone(),
    };
    let reply = serde_json::json!({
        "sid": message.sid, "account_sid": inner.account_sid, "status": "queued",
        "to": message.to, "from": message.from, "body": message.body,
        "num_segments": segments(&message.body).to_string(), "num_media": message.media_urls.len().to_string(),
        "direction": "outbound-api", "api_version": "2010-04-01",
        "error_code": null, "error_message": null,
        "uri": format!("/2010-04-01/Accounts/{sid}/Messages/{}.json", message.sid),
    });
    inner.state.lock().unwrap().messages.push(message);
    inner.changed.notify_all();
    answer(&mut stream, 201, &reply.to_string())
}
