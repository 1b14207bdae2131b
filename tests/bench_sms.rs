//! Benchmark for issue 4: SMS per second from XMPP to Kannel through the gateway (durable
//! SQLite outbox, as in production) against Kannel's own `sendsms` rate from a plain HTTP
//! client, in one run, on one Kannel (real bearerbox + smsbox; the rig is the fake SMSC's
//! client and counts the MTs). `bench/sms.sh` runs it:
//!
//! ```sh
//! cargo test --release --test bench_sms -- --ignored --nocapture
//! ```
//!
//! Environment: `SMS_BENCH_N` messages per phase (default 2000), `SMS_BENCH_USERS`
//! concurrent senders (default 4), `SMS_BENCH_ROUNDS` (default 1: one direct phase, then
//! one gateway phase; more rounds alternate them and the medians are reported),
//! `SMS_BENCH_TIMEOUT` seconds for the whole test (default 300), `SMS_BENCH_DLR=0` to run
//! without delivery reports (`delivery_reports: false`, and no dlr-mask in phase A; the
//! default asks for them, as the gateway does by default), `RUST_LOG` for the gateway
//! (`info` when unset, unlike the other tests' `debug,switchboard=trace`). For diagnosis
//! only: `SMS_BENCH_DIRECT_PAUSE_US` makes each phase-A client pause after every answer,
//! and `SMS_BENCH_KANNEL_PRELOAD` (set by `bench/sms.sh` with `SMS_BENCH_KANNEL_NODELAY=1`)
//! starts Kannel with TCP_NODELAY forced on all its TCP sockets.
//!
//! - Phase A (direct): U threads, each one keep-alive HTTP/1.1 connection to smsbox (a new
//!   one only if smsbox closes it), each sending its share of the N messages one after the
//!   other: the same query the gateway sends (username, password, from, to, text,
//!   charset=UTF-8, coding=0, dlr-mask and dlr-url; the DLR references are the phase's own).
//! - Phase B (gateway): U XMPP users (slixmpp), each with its own number in `sms.numbers`,
//!   each sending its share as chat messages (no receipt asked) to its own phone contact.
//!
//! With delivery reports asked for, Kannel's fake SMSC reports every MT as delivered, so in
//! both phases smsbox also calls the
//! gateway's `/sms/kannel/dlr` once per message (phase A's references are unknown to the
//! gateway: one read each; phase B's are the gateway's own: the full report path).
//!
//! Both phases time from the first request (stanza) until every MT has reached the fake SMSC
//! (the rig's reader hands the last one over after 50 ms of quiet; those 50 ms are taken
//! off), and check that each message arrived exactly once with the right numbers. Before
//! each timed phase every sender sends one untimed warm-up message (it opens the HTTP
//! connections, and in phase B the user's gateway session, which is created by its first
//! message). Results go to stdout and to `bench/results/sms-<UTC timestamp>.txt`.

mod common;
use common::bench::{self, env_usize, median, Run};
use common::kannel::Kannel;
use common::mt_tally::numbers;
use common::procs::{self, pids_matching, Procs};
use common::sms::{
    config_with_numbers, kannel as kannel_provider, start_gateway, user, KANNEL_SECRET, SECRET, SMS,
};
use common::sms_phases::Rig;
use common::{free_port, workdir, Agent, Prosody};
use std::path::Path;
use std::time::{Duration, Instant};

fn gateway_config(
    prosody: &Prosody,
    http: u16,
    sendsms_url: &str,
    users: usize,
    dlr: bool,
) -> String {
    let mut provider = kannel_provider(sendsms_url);
    if !dlr {
        provider = format!(
            "{}, delivery_reports: false}}",
            provider.trim_end_matches('}')
        );
    }
    let numbers: Vec<String> = (0..users)
        .map(|u| format!("\"{}\": \"u{}@localhost\"", numbers(u).0, u + 1))
        .collect();
    let limits = "  rate_per_minute: 1000000\n  daily_cap: 1000000\n";
    config_with_numbers(prosody, http, &provider, &numbers.join(", "), limits)
}

#[test]
#[ignore = "benchmark: bench/sms.sh (cargo test --release --test bench_sms -- --ignored --nocapture)"]
fn sms_throughput_through_the_gateway_vs_kannel_direct() {
    let n = env_usize("SMS_BENCH_N", 2000);
    let users = env_usize("SMS_BENCH_USERS", 4);
    let rounds = env_usize("SMS_BENCH_ROUNDS", 1);
    let timeout = Duration::from_secs(env_usize("SMS_BENCH_TIMEOUT", 300) as u64);
    assert!(
        n >= users && users >= 1 && rounds >= 1,
        "need SMS_BENCH_N >= SMS_BENCH_USERS >= 1"
    );
    assert!(users <= 9999 && n <= 999_999);
    let deadline = Instant::now() + timeout;
    let mut run = Run::start();
    run.date_as_stamp = true;
    let dlr = env_usize("SMS_BENCH_DLR", 1) != 0;
    let direct_pause = Duration::from_micros(env_usize("SMS_BENCH_DIRECT_PAUSE_US", 0) as u64);

    let dir = workdir("bench-sms");
    let (prosody, jids) = bench::prosody_with_users(dir.path(), (SMS, SECRET), users);
    let http = free_port();
    // Diagnosis only: a preload library that sets TCP_NODELAY on the TCP sockets the Kannel
    // boxes connect and accept (bench/sms.sh builds it with SMS_BENCH_KANNEL_NODELAY=1).
    let preload = std::env::var("SMS_BENCH_KANNEL_PRELOAD")
        .ok()
        .filter(|p| !p.is_empty());
    if let Some(lib) = &preload {
        assert!(
            Path::new(lib).exists(),
            "SMS_BENCH_KANNEL_PRELOAD={lib} does not exist"
        );
        std::env::set_var("LD_PRELOAD", lib);
        std::env::set_var("BENCH_TCP_NODELAY", "1");
    }
    let kannel = Kannel::start(
        dir.path(),
        &format!("http://127.0.0.1:{http}/sms/kannel?secret={KANNEL_SECRET}"),
    );
    if preload.is_some() {
        std::env::remove_var("LD_PRELOAD");
        std::env::remove_var("BENCH_TCP_NODELAY");
    }
    let gateway = start_gateway(
        dir.path(),
        &gateway_config(&prosody, http, &kannel.sendsms_url(), users, dlr),
    );
    let agents: Vec<Agent> = jids
        .iter()
        .map(|jid| user(dir.path(), &prosody, jid))
        .collect();
    assert!(
        Instant::now() < deadline,
        "setup took longer than {timeout:?}"
    );

    let kannel_conf = kannel.dir().join("kannel.conf");
    let kannel_conf = kannel_conf.to_string_lossy();
    let mut groups = procs::xmpp_groups(&gateway, &prosody);
    groups.extend([
        ("bearerbox", pids_matching(&["bearerbox", &kannel_conf])),
        ("smsbox", pids_matching(&["smsbox", &kannel_conf])),
        ("rig", vec![std::process::id().to_string()]),
    ]);
    assert_eq!(groups[2].1.len(), users, "one agent process per user");
    // Phase A leaves them idle.
    let procs = Procs::new(groups, &["gateway", "prosody", "agents"]);
    let rig = Rig {
        n,
        users,
        deadline,
        kannel: &kannel,
        gateway: &gateway,
        http_port: http,
        agents: &agents,
        procs: &procs,
        direct_pause,
        dlr,
        foreign: Default::default(),
    };

    if !dlr {
        run.report("NOTE: no delivery reports asked for (SMS_BENCH_DLR=0)".to_owned());
    }
    if !direct_pause.is_zero() {
        run.report(format!(
            "NOTE: phase A pauses {direct_pause:?} after each answer (SMS_BENCH_DIRECT_PAUSE_US)"
        ));
    }
    if let Some(lib) = &preload {
        run.report(format!(
            "NOTE: Kannel runs with {lib} preloaded (TCP_NODELAY on all the \
             boxes' TCP sockets): these are not figures of stock Kannel"
        ));
    }
    let (mut direct_rates, mut gateway_rates) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let a = rig.direct(&format!("A{round}"));
        run.report(format!(
            "round {round} direct : {n} SMS in {:.3} s = {:.0} SMS/s (Kannel sendsms, {users} HTTP client threads; \
             last answer at {:.3} s; {}; CPU: {})",
            a.secs,
            a.rate(n),
            a.submit_secs,
            a.note,
            a.cpu
        ));
        let b = rig.gateway(&format!("B{round}"));
        run.report(format!(
            "round {round} gateway: {n} SMS in {:.3} s = {:.0} SMS/s (XMPP -> switchboard -> Kannel, {users} users, \
             durable outbox; all stanzas handed to the agents at {:.3} s; CPU: {})",
            b.secs,
            b.rate(n),
            b.submit_secs,
            b.cpu
        ));
        run.report(format!(
            "round {round} ratio gateway/direct: {:.2}",
            b.rate(n) / a.rate(n)
        ));
        direct_rates.push(a.rate(n));
        gateway_rates.push(b.rate(n));
    }
    let (direct, through) = (median(direct_rates), median(gateway_rates));
    let ratio = through / direct;
    let of = if rounds > 1 {
        format!(" (median of {rounds})")
    } else {
        String::new()
    };
    run.report(format!("direct : {direct:.0} SMS/s{of}"));
    run.report(format!("gateway: {through:.0} SMS/s{of}"));
    let foreign: Vec<String> = rig.foreign.lock().unwrap().iter().cloned().collect();
    if !foreign.is_empty() {
        run.report(format!(
            "NOTE: other gateways, Kannels, Prosodys or agents ran during the timed phases, so \
             these figures are not valid: {foreign:?}"
        ));
    }
    let verdict = if !foreign.is_empty() {
        "INVALID: other servers were running"
    } else if preload.is_some() || !direct_pause.is_zero() {
        "diagnostic run, not the issue's figure"
    } else if ratio >= 0.8 {
        "goal >= 0.80: met"
    } else {
        "goal >= 0.80: NOT met"
    };
    run.report(format!("ratio gateway/direct: {ratio:.2} ({verdict})"));

    let params = [
        format!("N: {n}"),
        format!("U: {users}"),
        format!("rounds: {rounds}"),
    ];
    let dlr_line = if dlr {
        "asked for (dlr-mask 19 and a dlr-url in both phases; the gateway's default)"
    } else {
        "off (delivery_reports: false; no dlr-mask in phase A)"
    };
    let kannel_line = match &preload {
        Some(lib) => {
            format!("Debian 1.4.5, MODIFIED: TCP_NODELAY on all the boxes' TCP sockets ({lib})")
        }
        None => "Debian 1.4.5, stock".into(),
    };
    let extra = [
        format!("delivery reports: {dlr_line}"),
        format!("kannel: {kannel_line}"),
    ];
    run.write(
        "sms",
        "# SMS throughput, issue 4 (tests/bench_sms.rs)",
        &params,
        &extra,
    );

    drop(agents);
}
