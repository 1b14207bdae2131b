//! The command line: `check-config`, `--config` with a bad file, `--version`.

mod common;

use common::workdir;

#[test]
fn check_config_names_every_problem_and_exits_2() {
    let dir = workdir("check-config");
    let good = "xmpp: {server: \"127.0.0.1:5347\", allow: [\"example.org\"]}\n\
                storage: \"sqlite://x.db\"\n\
                echo: {domain: echo.example.org, secret: s}\n";
    std::fs::write(dir.path().join("good.yaml"), good).unwrap();
    let out = common::run_switchboard(&["check-config", "good.yaml"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("good.yaml: OK; transports: echo (echo.example.org)"));

    let bad = "xmpp: {server: nowhere, allow: [\"example.org\"], colour: blue}\n\
               storage: \"sqlite://x.db\"\n\
               echo: {domain: echo.example.org, secret: \"${SB_TEST_UNSET_SECRET}\"}\n";
    std::fs::write(dir.path().join("bad.yaml"), bad).unwrap();
    let out = common::run_switchboard(&["check-config", "bad.yaml"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "bad.yaml: echo.secret: environment variable SB_TEST_UNSET_SECRET is not set"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.yaml: xmpp.colour: unknown field `colour`"),
        "{stderr}"
    );

    // Running with a bad file fails the same way, before connecting anywhere.
    let semantic = good.replace("127.0.0.1:5347", "nowhere");
    std::fs::write(dir.path().join("semantic.yaml"), semantic).unwrap();
    let out = common::run_switchboard(&["--config", "semantic.yaml"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("semantic.yaml: xmpp.server: 'nowhere' is not host:port"),
        "{stderr}"
    );
    assert!(!dir.path().join("x.db").exists(), "nothing was opened");

    let out = common::run_switchboard(&["--version"], dir.path());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = common::run_switchboard(&["check-config", "missing.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml: cannot read the file"));
}
