use super::*;

const GOOD: &str = r#"
xmpp:
  server: "127.0.0.1:5347"
  allow: ["example.org", "bob@other.org"]
  admins: ["admin@example.org"]
storage: "sqlite://switchboard.db"
http:
  listen: "127.0.0.1:8080"
  public_url: "https://gw.example.org"
echo:
  domain: echo.example.org
  secret: "${ECHO_SECRET}"
"#;

fn env(name: &str) -> Option<String> {
    (name == "ECHO_SECRET").then(|| "from-env".to_string())
}

fn problems(text: &str) -> Vec<String> {
    Config::parse(Path::new("t.yaml"), text, &env)
        .unwrap_err()
        .to_string()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn parses_a_good_file_and_expands_secrets() {
    let c = Config::parse(Path::new("t.yaml"), GOOD, &env).unwrap();
    assert_eq!(c.echo.as_ref().unwrap().secret.expose(), "from-env");
    assert_eq!(c.xmpp.link_queue, 1_000);
    assert_eq!(c.xmpp.keepalive, ConfigDuration::from_secs(30));
    assert_eq!(c.sqlite_path(), Some(PathBuf::from("switchboard.db")));
    assert_eq!(c.transports().len(), 1);
    assert!(
        !format!("{c:?}").contains("from-env"),
        "secrets must not show in Debug"
    );
}

#[test]
fn the_example_file_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let env = |name: &str| Some(format!("value-of-{name}"));
    let c = Config::parse(&path, &text, &env).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.http.is_some());
    assert!(c.echo.is_some());
    let irc = c.irc.as_ref().expect("the irc section");
    assert_eq!(irc.link.secret.expose(), "value-of-IRC_COMPONENT_SECRET");
    assert_eq!(
        irc.bridge.network("libera").unwrap().host,
        "irc.libera.chat"
    );
    assert_eq!(irc.history, HistoryConfig::default());
    let sms = c.sms.as_ref().expect("the sms section");
    assert_eq!(sms.bridge.max_segments, 10);
    assert_eq!(
        sms.bridge.numbers.get("+15550001111").map(String::as_str),
        Some("alice@example.org")
    );
    let email = c.email.as_ref().expect("the email section");
    assert_eq!(email.bridge.smtp.relay, "smtp.example.org:587");
    assert_eq!(
        email.bridge.smtp.password.as_deref(),
        Some("value-of-SMTP_PASSWORD")
    );
    assert_eq!(c.transports().len(), 4);
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    let text = GOOD.replace("  admins:", "  colour: blue\n  admins:");
    assert_eq!(problems(&text).len(), 1);
    let p = &problems(&text)[0];
    assert!(
        p.starts_with("t.yaml: xmpp.colour: unknown field `colour`, expected one of"),
        "{p}"
    );
}

#[test]
fn missing_environment_variables_are_named_with_their_key() {
    let text = GOOD.replace("${ECHO_SECRET}", "${NOT_SET_ANYWHERE}");
    assert_eq!(
        problems(&text),
        vec!["t.yaml: echo.secret: environment variable NOT_SET_ANYWHERE is not set"]
    );
}

#[test]
fn every_semantic_problem_is_reported() {
    let text = GOOD
        .replace("127.0.0.1:5347", "nowhere")
        .replace("\"bob@other.org\"", "\"bob@other.org/res\"")
        .replace("admin@example.org", "example.org")
        .replace("sqlite://switchboard.db", "mysql://x")
        .replace("127.0.0.1:8080", "8080")
        .replace("domain: echo.example.org", "domain: \"bad domain\"");
    assert_eq!(
        problems(&text),
        vec![
            "t.yaml: xmpp.server: 'nowhere' is not host:port (the XMPP server's component port)",
            "t.yaml: xmpp.allow[1]: 'bob@other.org/res' is not a domain, a bare JID or \"*\"",
            "t.yaml: xmpp.admins[0]: 'example.org' is not a bare JID like admin@example.org",
            "t.yaml: storage: 'mysql://x' is not sqlite://FILE (or sqlite://:memory:)",
            "t.yaml: http.listen: '8080' is not ip:port",
            "t.yaml: echo.domain: 'bad domain' is not a domain name like echo.example.org",
        ]
    );
}

#[test]
fn no_transport_and_empty_allow_are_errors() {
    let text = "xmpp: {server: \"h:1\", allow: []}\nstorage: \"sqlite://x.db\"\n";
    assert_eq!(
        problems(text),
        vec![
            "t.yaml: xmpp.allow: empty: nobody could use the gateway (list domains or JIDs, or \"*\" for everyone)",
            "t.yaml: no transport is configured (add an `irc`, `sms`, `email` or `echo` section)",
        ]
    );
}

#[test]
fn bad_durations_name_the_key() {
    let text = GOOD.replace("  admins:", "  keepalive: soon\n  admins:");
    let p = &problems(&text)[0];
    assert!(
        p.starts_with("t.yaml: xmpp.keepalive: 'soon' is not a duration"),
        "{p}"
    );
}

#[test]
fn the_benchmark_template_parses_unchanged() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/conf/switchboard.yaml.in");
    let Ok(template) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} is not beside the project", path.display());
        return;
    };
    let text = template
        .replace("@COMPONENT_PORT@", "25347")
        .replace("@RUNDIR@", "/tmp/bench-run")
        .replace("@GW_DOMAIN@", "biboumi.localhost")
        .replace("@GW_SECRET@", "secret")
        .replace("@IRC_HOST@", "127.0.0.1")
        .replace("@IRC_PORT@", "26667");
    let c = Config::parse(&path, &text, &env).unwrap_or_else(|e| panic!("{e}"));
    let irc = c.irc.clone().expect("an irc section");
    assert_eq!(irc.link.domain, "biboumi.localhost");
    let net = irc.bridge.network("127.0.0.1").unwrap();
    assert_eq!((net.port, net.tls, net.throttle), (26667, false, false));
    assert_eq!(
        c.sqlite_path(),
        Some(PathBuf::from("/tmp/bench-run/gateway/state.db"))
    );
}

#[test]
fn irc_keys_are_checked_with_their_path() {
    let text = GOOD.replace("echo:", "irc:\n  domain: irc.example.org\n  secret: s\n  networks: {libera: {port: 6697, colour: red}}\necho:");
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("t.yaml: irc.networks.libera.colour: unknown field `colour`"),
        "{p:?}"
    );
    let text = GOOD.replace(
        "echo:",
        "irc:\n  domain: irc.example.org\n  secret: s\n  default: {encoding: klingon}\necho:",
    );
    assert_eq!(problems(&text), vec!["t.yaml: irc.default.encoding: unknown encoding \"klingon\": use latin-1, utf-8-lossy or an encoding such as windows-1251, koi8-r or iso-8859-15"]);
}

#[test]
fn the_irc_archive_has_defaults_and_its_keys_are_checked() {
    let irc = "irc:\n  domain: irc.example.org\n  secret: s\n";
    let c = Config::parse(
        Path::new("t.yaml"),
        &GOOD.replace("echo:", &format!("{irc}echo:")),
        &env,
    )
    .unwrap();
    let history = &c.irc.unwrap().history;
    assert!(history.enabled);
    assert_eq!((history.on_join, history.max_per_room), (20, 100_000));
    assert_eq!(history.max_age, ConfigDuration::from_secs(30 * 86_400));
    let with = |keys: &str| {
        problems(&GOOD.replace("echo:", &format!("{irc}  history: {{{keys}}}\necho:")))
    };
    assert_eq!(
        with("on_join: 501"),
        ["t.yaml: irc.history.on_join: 501 is more than the 500 lines a join may get"]
    );
    assert_eq!(
        with("max_per_room: 0"),
        ["t.yaml: irc.history.max_per_room: must be at least 1 (turn the archive off with enabled: false)"]
    );
    assert!(with("max_age: forever")[0]
        .starts_with("t.yaml: irc.history.max_age: 'forever' is not a duration"));
    assert!(with("keep: 1")[0].starts_with("t.yaml: irc.history.keep: unknown field `keep`"));
    let off = GOOD.replace(
        "echo:",
        &format!("{irc}  history: {{enabled: false}}\necho:"),
    );
    assert!(
        !Config::parse(Path::new("t.yaml"), &off, &env)
            .unwrap()
            .irc
            .unwrap()
            .history
            .enabled
    );
    // Only the IRC section has an archive.
    let sms = "sms:\n  domain: sms.example.org\n  secret: s\n  provider: {kind: twilio, account_sid: AC1, auth_token: t}\n  history: {enabled: true}\n";
    assert!(problems(&GOOD.replace("echo:", &format!("{sms}echo:")))
        .iter()
        .any(|p| p.starts_with("t.yaml: sms.history: unknown field `history`")));
}

#[test]
fn the_sms_section_is_checked_with_its_keys() {
    let sms = "sms:\n  domain: sms.example.org\n  secret: s\n  provider: {kind: twilio, account_sid: AC1, auth_token: t}\n  numbers: {\"+15550001111\": \"Alice@Example.org\", \"+15550002222\": \"not a jid@\"}\n";
    let text = format!("{GOOD}{sms}");
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("t.yaml: sms.numbers.+15550002222: 'not a jid@' is not a bare JID"),
        "{p:?}"
    );
    let text = text.replace(", \"+15550002222\": \"not a jid@\"", "");
    let c = Config::parse(Path::new("t.yaml"), &text, &env).unwrap();
    let numbers = &c.sms.as_ref().unwrap().bridge.numbers;
    assert_eq!(
        numbers.get("+15550001111").map(String::as_str),
        Some("alice@example.org"),
        "owners are normalised"
    );
    // The webhooks need the HTTP listener.
    let no_http = text.replace(
        "http:\n  listen: \"127.0.0.1:8080\"\n  public_url: \"https://gw.example.org\"\n",
        "",
    );
    assert_eq!(
        problems(&no_http),
        vec!["t.yaml: sms: needs the `http` section: replies and delivery reports arrive as webhooks on http.listen"]
    );
    let bad = text.replace(
        "kind: twilio, account_sid: AC1",
        "kind: twilio, account_sid: AC1, colour: red",
    );
    assert!(
        problems(&bad)[0].starts_with("t.yaml: sms.provider: unknown field `colour`"),
        "{:?}",
        problems(&bad)
    );
}

#[test]
fn the_email_section_needs_http_and_checks_its_digest_keys() {
    let email = "email:\n  domain: mail.example.org\n  secret: s\n  address_domain: mail.example.org\n  smtp: {relay: \"127.0.0.1:25\", security: none}\n  listen: \"127.0.0.1:2525\"\n  digest: {nick: \"two words\", min_interval: 30m, max_items: 0}\n";
    let text = format!("{GOOD}{email}");
    let p = problems(&text);
    assert_eq!(
        p,
        vec![
            "t.yaml: email.digest.nick: 'two words' is not a nick (1 to 32 characters, no spaces or '/')",
            "t.yaml: email.digest.max_items: must be at least 1",
        ]
    );
    let text = text.replace(
        "nick: \"two words\", min_interval: 30m, max_items: 0",
        "min_interval: 30m",
    );
    let c = Config::parse(Path::new("t.yaml"), &text, &env).unwrap();
    let digest = &c.email.as_ref().unwrap().bridge.digest;
    assert_eq!(
        (digest.nick.as_str(), digest.min_interval.as_secs()),
        ("digest", 1800)
    );
    let no_http = text.replace(
        "http:\n  listen: \"127.0.0.1:8080\"\n  public_url: \"https://gw.example.org\"\n",
        "",
    );
    assert_eq!(
        problems(&no_http),
        vec!["t.yaml: email: needs the `http` section: digest mails carry one-click unsubscribe links to http.public_url"]
    );
}

#[test]
fn a_short_storage_secret_is_refused_and_a_long_one_kept_hidden() {
    let short = GOOD.replace(
        "storage: \"sqlite://switchboard.db\"",
        "storage: \"sqlite://switchboard.db\"\nstorage_secret: \"short\"",
    );
    assert_eq!(
        problems(&short),
        vec!["t.yaml: storage_secret: must be at least 16 characters"]
    );
    let long = GOOD.replace(
        "storage: \"sqlite://switchboard.db\"",
        "storage: \"sqlite://switchboard.db\"\nstorage_secret: \"0123456789abcdefXYZ\"",
    );
    let c = Config::parse(Path::new("t.yaml"), &long, &env).unwrap();
    assert_eq!(
        c.storage_secret.as_ref().map(Secret::expose),
        Some("0123456789abcdefXYZ")
    );
    assert!(!format!("{c:?}").contains("0123456789abcdefXYZ"));
}
