//! Tests of the email configuration.

use super::*;

#[test]
fn parses_with_defaults_and_hides_the_password() {
    let c: EmailConfig = serde_yaml_ng::from_str(
            "address_domain: mail.example.org\nlisten: 127.0.0.1:2525\nsmtp: {relay: \"smtp.example.org:587\", username: u, password: secret-pw}\n",
        )
        .unwrap();
    assert_eq!(c.smtp.security, Security::Starttls);
    assert_eq!(c.max_recipients, 20);
    assert_eq!(c.max_connections_per_ip, 10);
    assert_eq!(c.auth.unverified, Unverified::Mark);
    assert_eq!(c.auth.timeout, Duration::from_secs(10));
    assert_eq!(c.digest.max_code_mails_per_address, 3);
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    assert!(!format!("{c:?}").contains("secret-pw"));
}

#[test]
fn refuses_unknown_keys_and_reports_bad_values() {
    assert!(serde_yaml_ng::from_str::<EmailConfig>(
        "address_domain: m.example\nlisten: 127.0.0.1:1\nsmtp: {relay: \"h:1\", securty: tls}\n"
    )
    .is_err());
    let c: EmailConfig = serde_yaml_ng::from_str(
        "address_domain: nodot\nlisten: anywhere\nsmtp: {relay: nohost, username: u}\n",
    )
    .unwrap();
    let keys: Vec<String> = c.problems().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        ["address_domain", "listen", "smtp.relay", "smtp.password"]
    );
    let c: EmailConfig = serde_yaml_ng::from_str(
        "address_domain: m.example\nlisten: 127.0.0.1:1\nsmtp: {relay: \"h:1\"}\n\
             max_connections_per_ip: 0\nauth: {unverified: refuse, dns: nowhere, \
             trusted_relays: [{ip: 192.0.2.1, authserv_id: \"a b\"}]}\n",
    )
    .unwrap();
    assert_eq!(c.auth.unverified, Unverified::Refuse);
    let keys: Vec<String> = c.problems().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "max_connections_per_ip",
            "auth.dns",
            "auth.trusted_relays[0].authserv_id"
        ]
    );
    for bad in [
        "auth: {unverified: drop}",
        "auth: {trusted_relays: [{ip: not-an-ip}]}",
        "auth: {dnss: \"127.0.0.1:53\"}",
    ] {
        let yaml = format!(
            "address_domain: m.example\nlisten: 127.0.0.1:1\nsmtp: {{relay: \"h:1\"}}\n{bad}\n"
        );
        assert!(
            serde_yaml_ng::from_str::<EmailConfig>(&yaml).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn certificate_files_are_read_and_named_when_wrong() {
    let dir = std::env::temp_dir().join(format!("sb-email-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["mail.example.org".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["x.example".into()]).unwrap();
    let other_key = dir.join("other-key.pem");
    std::fs::write(&other_key, other.signing_key.serialize_pem()).unwrap();
    let parse = |tls: &str, smtp: &str| -> EmailConfig {
        serde_yaml_ng::from_str(&format!(
            "address_domain: mail.example.org\nlisten: 127.0.0.1:2525\n\
                 smtp: {{relay: \"smtp.example.org:587\"{smtp}}}\n{tls}"
        ))
        .unwrap()
    };
    let path = |p: &std::path::Path| p.display().to_string();
    let tls = |cert: &std::path::Path, key: &std::path::Path| {
        format!(
            "tls: {{cert: \"{}\", key: \"{}\"}}\n",
            path(cert),
            path(key)
        )
    };
    let keys = |c: &EmailConfig| -> Vec<String> {
        c.problems().into_iter().map(|(k, _)| k).collect::<Vec<_>>()
    };

    let good = parse(
        &tls(&cert, &key),
        &format!(", ca_file: \"{}\"", path(&cert)),
    );
    assert!(good.problems().is_empty(), "{:?}", good.problems());
    assert_eq!(good.tls.as_ref().unwrap().cert, cert);
    assert_eq!(good.smtp.ca_file.as_deref(), Some(cert.as_path()));

    let missing = dir.join("missing.pem");
    let no_cert = parse(
        &tls(&missing, &key),
        &format!(", ca_file: \"{}\"", path(&key)),
    );
    assert_eq!(keys(&no_cert), ["smtp.ca_file", "tls.cert"]);
    assert!(no_cert.problems()[1].1.contains("missing.pem"));
    let no_key = parse(&tls(&cert, &cert), "");
    assert_eq!(keys(&no_key), ["tls"]);
    let no_key = parse(&tls(&cert, &missing), "");
    assert_eq!(keys(&no_key), ["tls.key"]);
    let mismatch = parse(&tls(&cert, &other_key), "");
    assert_eq!(keys(&mismatch), ["tls"], "{:?}", mismatch.problems());
    let plain = parse(
        "",
        &format!(", security: none, ca_file: \"{}\"", path(&cert)),
    );
    assert_eq!(keys(&plain), ["smtp.ca_file"]);
    assert!(serde_yaml_ng::from_str::<EmailConfig>(
        "address_domain: m.example\nlisten: 127.0.0.1:1\nsmtp: {relay: \"h:1\"}\n\
             tls: {cert: a, key: b, chain: c}\n"
    )
    .is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
