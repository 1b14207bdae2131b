#!/usr/bin/python3
"""A capturing SMTP server for the email bridge's tests (Debian's python3-aiosmtpd).

Run by tests/common/smtp.rs with /usr/bin/python3. Every event is one JSON line appended to
--out (flushed before the SMTP reply is sent, so a client that saw the reply finds the line):
  {"event": "mail", "mail_from", "rcpt_tos", "raw", "charset", "headers", "decoded", "body",
   "parts", "peer", "auth_user", "tls"}
  {"event": "reject", "stage", "code", "mail_from", "rcpt_tos"}
"raw" is the message as received (dot-unstuffed, CRLF line ends), decoded as UTF-8 when it is
valid UTF-8, else as latin-1 (byte for byte); "charset" says which. "headers": [name, value
unfolded]; "decoded": those values with RFC 2047 words decoded; "body": all after the first
blank line; "parts": the leaf MIME parts, [type, filename, text (transfer- and charset-decoded,
LF) or null, size]. --options and the working directory (TLS files) come from the rig.

Faults come from the --control file (JSON, replaced atomically by the rig):
  {"seq": N, "stage": "MAIL"|"RCPT"|"DATA", "count": K, "code": C or null, "delay_ms": D}
A new seq arms K faults: each of the next K commands of that stage waits D ms, then answers C
(or goes on normally when C is null). Recipients in reject_rcpt always get 550 at RCPT.
Prints "READY <port>" on stdout once listening; SIGTERM stops it.
"""
import argparse, asyncio, email, email.policy, json, logging, re, signal, ssl, subprocess, sys
import threading, warnings
from email.header import decode_header, make_header
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

TEXTS = {421: "4.3.2 Service shutting down (test)", 450: "4.2.1 Mailbox busy (test)",
         451: "4.3.0 Local error, try again later (test)", 452: "4.3.1 Insufficient storage (test)",
         550: "5.7.1 Rejected (test)", 552: "5.3.4 Message too big (test)",
         554: "5.6.0 Transaction failed (test)"}


class Capture:
    def __init__(self, out, control, reject_rcpt):
        self.out = open(out, "a", encoding="utf-8")
        self.control = control
        self.reject_rcpt = {r.lower() for r in reject_rcpt}
        self.seq, self.fault, self.left = 0, None, 0
        self.lock = threading.Lock()

    def write(self, record):
        with self.lock:
            self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.out.flush()

    def take_fault(self, stage):
        try:
            with open(self.control, encoding="utf-8") as f:
                fault = json.load(f)
        except (OSError, ValueError):
            fault = None
        if fault and fault.get("seq", 0) > self.seq:
            self.seq, self.fault, self.left = fault["seq"], fault, fault.get("count", 0)
        if self.fault and self.left > 0 and self.fault.get("stage") == stage:
            self.left -= 1
            return self.fault
        return None

    async def fault_reply(self, stage, envelope, rcpt_tos):
        fault = self.take_fault(stage)
        if fault is None:
            return None
        if fault.get("delay_ms"):
            await asyncio.sleep(fault["delay_ms"] / 1000)
        code = fault.get("code")
        if not code:
            return None
        self.reject(stage, code, envelope, rcpt_tos)
        return f"{code} {TEXTS.get(code, 'Failed (test)')}"

    def reject(self, stage, code, envelope, rcpt_tos):
        self.write({"event": "reject", "stage": stage, "code": code,
                    "mail_from": envelope.mail_from or "", "rcpt_tos": rcpt_tos})

    async def handle_MAIL(self, server, session, envelope, address, options):
        reply = await self.fault_reply("MAIL", envelope, [])
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.lower() in self.reject_rcpt:
            self.reject("RCPT", 550, envelope, [address])
            return f"550 5.1.1 <{address}>: Recipient address rejected (test)"
        reply = await self.fault_reply("RCPT", envelope, [address])
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = await self.fault_reply("DATA", envelope, list(envelope.rcpt_tos))
        if reply:
            return reply
        raw = envelope.original_content or b""
        try:
            data, charset = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            data, charset = raw.decode("latin-1"), "latin-1"
        try:
            headers, body, parts = parse(raw, data)
        except Exception:  # still accept: the test sees "raw" and the log the traceback
            logging.exception("cannot parse the message")
            headers, body, parts = [], "", []
        ssl_object = server.transport.get_extra_info("ssl_object") if server.transport else None
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        self.write({"event": "mail", "mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                    "raw": data, "charset": charset, "headers": [h[:2] for h in headers],
                    "decoded": [h[2] for h in headers], "body": body,
                    "parts": parts, "peer": "%s:%d" % session.peer[:2],
                    "auth_user": login.decode("utf-8", "replace") if login else None,
                    "tls": ssl_object.version() if ssl_object else None})
        return "250 2.0.0 OK captured"


def parse(raw, data):
    """Headers, body and MIME parts, by Python's email package (an independent parser)."""
    if data.startswith("\r\n"):
        head, body = "", data[2:]
    else:
        head, _, body = data.partition("\r\n\r\n")
    headers = []
    for line in re.split(r"\r\n(?![ \t])", head):
        if ":" in line:
            name, value = line.split(":", 1)
            value = re.sub(r"\r\n(?=[ \t])", "", value).strip()
            try:
                decoded = str(make_header(decode_header(value)))
            except Exception:
                decoded = value
            headers.append([name.strip(), value, decoded])
    parts = []
    for part in email.message_from_bytes(raw, policy=email.policy.default).walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        try:
            text = part.get_content().replace("\r\n", "\n") if part.get_content_maintype() == "text" else None
        except Exception:
            text = None
        parts.append([part.get_content_type(), part.get_filename(), text, len(payload)])
    return headers, body, parts


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        # handled=False: aiosmtpd's default (True) sends no reply at all on a failure.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
    return check


OPENSSL_CNF = """[req]
distinguished_name = dn
prompt = no
[dn]
CN = test
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def make_certificates():
    """ca.pem and cert.pem + key.pem (localhost, 127.0.0.1) signed by it, in the working
    directory. The leaf is no CA: rustls (webpki) refuses a CA certificate as a server's."""
    with open("openssl.cnf", "w") as f:
        f.write(OPENSSL_CNF)
    common = ["openssl", "req", "-x509", "-config", "openssl.cnf", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30"]
    for extra in ("-extensions ca -subj /CN=Switchboard-test-CA -keyout ca.key -out ca.pem",
                  "-extensions leaf -subj /CN=localhost -CA ca.pem -CAkey ca.key"
                  " -keyout key.pem -out cert.pem"):
        subprocess.run(common + extra.split(), check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--control", required=True)
    # {"auth": [user, password] | null, "tls": "none" | "starttls" | "starttls-required" |
    #  "implicit", "reject_rcpt": [address, ...]}
    ap.add_argument("--options", default="{}")
    a = ap.parse_args()
    o = json.loads(a.options)
    tls, auth = o.get("tls", "none"), o.get("auth")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    warnings.simplefilter("ignore")  # "Requiring AUTH while not requiring TLS": on purpose
    context = None
    if tls != "none":
        make_certificates()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain("cert.pem", "key.pem")
    kwargs = dict(hostname="127.0.0.1", port=a.port, server_hostname="capture.test",
                  decode_data=False, enable_SMTPUTF8=True, data_size_limit=32 << 20,
                  auth_require_tls=False, ready_timeout=10)
    if auth:
        kwargs.update(authenticator=authenticator(*auth), auth_required=True)
    if tls == "implicit":
        kwargs["ssl_context"] = context
    elif context is not None:
        kwargs.update(tls_context=context, require_starttls=tls == "starttls-required")
    controller = Controller(Capture(a.out, a.control, o.get("reject_rcpt", [])), **kwargs)
    try:
        controller.start()
    except OSError as e:  # port taken meanwhile: the rig tries another one
        print(f"BIND FAILED {e}", flush=True)
        sys.exit(3)
    print(f"READY {a.port}", flush=True)
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
