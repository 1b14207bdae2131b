use super::*;

fn parse(yaml: &str) -> IrcConfig {
    serde_yaml_ng::from_str(yaml).unwrap()
}

#[test]
fn listed_networks_take_defaults_and_host_defaults_to_the_name() {
    let c = parse("networks: {\"127.0.0.1\": {port: 26667, tls: false, throttle: false}, libera: {host: irc.libera.chat}}");
    let local = c.network("127.0.0.1").unwrap();
    assert_eq!(
        (local.host.as_str(), local.port, local.tls, local.throttle),
        ("127.0.0.1", 26667, false, false)
    );
    let libera = c.network("LIBERA").unwrap();
    assert_eq!(
        (
            libera.host.as_str(),
            libera.port,
            libera.tls,
            libera.tls_verify
        ),
        ("irc.libera.chat", 6697, true, true)
    );
    assert_eq!(libera.name, "libera");
    assert!(c.problems().is_empty());
}

#[test]
fn unlisted_hosts_are_refused_unless_allowed() {
    let closed = parse("networks: {}");
    assert_eq!(closed.network("evil.example"), None);
    let open = parse("allow_any_network: true");
    assert_eq!(open.network("irc.example").unwrap().host, "irc.example");
}

#[test]
fn bad_values_are_problems_and_unknown_keys_errors() {
    let c = parse(
        "networks: {\"a b\": {encoding: klingon, port: 0}}\ndefault: {burst: 0, keepalive: 0s}",
    );
    let keys: Vec<String> = c.problems().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "networks.a b.encoding",
            "networks.a b",
            "networks.a b.port",
            "default.keepalive",
            "default.burst"
        ]
    );
    assert!(serde_yaml_ng::from_str::<IrcConfig>("colour: blue").is_err());
    assert!(serde_yaml_ng::from_str::<IrcConfig>("limits: {motd: 3}").is_err());
}

#[test]
fn network_keys_match_ignoring_case_and_may_not_collide() {
    let c = parse("networks: {Libera: {host: irc.libera.chat}}");
    assert_eq!(c.network("libera").unwrap().host, "irc.libera.chat");
    assert_eq!(c.network("LIBERA").unwrap().name, "Libera");
    assert!(c.problems().is_empty());
    let twice = parse("networks: {Libera: {}, libera: {}}");
    let problems = twice.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, "networks.libera");
    assert!(problems[0].1.contains("'Libera'"), "{problems:?}");
}

#[test]
fn limits_default_and_zero_is_refused() {
    let c = parse("networks: {}");
    assert_eq!(c.limits, Limits::default());
    assert_eq!(c.default.write_timeout, Duration::from_secs(30));
    let zero = parse("limits: {motd_lines: 0, command_queue: 0}\ndefault: {write_timeout: 0s}");
    let keys: Vec<String> = zero.problems().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "default.write_timeout",
            "limits.motd_lines",
            "limits.command_queue"
        ]
    );
}
