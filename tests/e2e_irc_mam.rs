//! End-to-end tests of the IRC room archive: stanza-ids on live lines, MAM queries
//! (raw, and through slixmpp's XEP-0313 plugin), history on join, who may read what, room
//! disco (checked with nbxmpp, as Gajim reads it), and the archive across a SIGKILL.
//! Real Prosody, real InspIRCd, the gateway binary, slixmpp users and raw IRC clients.

mod common;

use common::irc_gateway::IrcRig;
use common::muc::{join_with_history as join, leave, stanza_id, NS_DELAY, NS_SID};
use common::{body, NS_CLIENT};
use common::{error_condition, escape_xml, Agent, Gateway, IrcClient};
use minidom::Element;
use std::process::Command;
use std::time::Duration;

const IRC: &str = "irc.localhost";
const SECRET: &str = "irc-secret";
const T: Duration = Duration::from_secs(10);
const NS_MAM: &str = "urn:xmpp:mam:2";
const NS_FORWARD: &str = "urn:xmpp:forward:0";
const NS_RSM: &str = "http://jabber.org/protocol/rsm";

type Rig = IrcRig;

fn rig(name: &str, history: &str) -> Rig {
    IrcRig::start(name, IRC, SECRET, &format!("  quit_grace: 1s\n{history}"))
}

fn room(chan: &str) -> String {
    format!("{chan}%127.0.0.1@{IRC}")
}

/// The live copy of `text` said in `room` (with its stanza-id).
fn live(agent: &Agent, room: &str, text: &str) -> String {
    let m = agent.expect(T, &format!("{text:?} live"), |s| {
        s.name() == "message"
            && s.attr("type") == Some("groupchat")
            && s.attr("from").is_some_and(|f| f.starts_with(room))
            && body(s) == text
            && s.get_child("delay", NS_DELAY).is_none()
    });
    stanza_id(&m, room).unwrap_or_else(|| panic!("no stanza-id: {}", String::from(&m)))
}

/// One MAM page: (results as (id, nick, body)), the `<fin/>` iq. `form` are the data form's
/// fields after FORM_TYPE, `rsm` the `<set/>`'s children.
struct Page {
    lines: Vec<(String, String, String)>,
    iq: Element,
}

fn mam(agent: &Agent, room: &str, form: &str, rsm: &str) -> Page {
    let id = agent.new_id();
    let qid = format!("q-{id}");
    let iq = agent.iq(
        &format!(
            "<iq type='set' id='{id}' to='{room}'><query xmlns='{NS_MAM}' queryid='{qid}'>\
             <x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>{NS_MAM}</value></field>{form}</x>\
             <set xmlns='{NS_RSM}'>{rsm}</set></query></iq>"
        ),
        &id,
        T,
    );
    let mut lines = Vec::new();
    while let Some(m) = agent.try_expect(Duration::from_millis(50), |s| {
        s.name() == "message"
            && s.get_child("result", NS_MAM)
                .is_some_and(|r| r.attr("queryid") == Some(qid.as_str()))
    }) {
        assert_eq!(m.attr("from"), Some(room), "results come from the room");
        let result = m.get_child("result", NS_MAM).unwrap();
        let fwd = result
            .get_child("forwarded", NS_FORWARD)
            .expect("forwarded");
        assert!(
            fwd.get_child("delay", NS_DELAY).is_some(),
            "{}",
            String::from(&m)
        );
        let inner = fwd
            .get_child("message", NS_CLIENT)
            .expect("the archived message");
        assert_eq!(inner.attr("type"), Some("groupchat"));
        let nick = inner
            .attr("from")
            .and_then(|f| f.split_once('/'))
            .map(|(_, n)| n.to_string());
        lines.push((
            result.attr("id").unwrap().to_string(),
            nick.unwrap_or_default(),
            body(inner),
        ));
    }
    Page { lines, iq }
}

fn fin(page: &Page) -> (Option<String>, Option<String>, Option<String>) {
    let fin = page
        .iq
        .get_child("fin", NS_MAM)
        .unwrap_or_else(|| panic!("no fin: {}", String::from(&page.iq)));
    let set = fin.get_child("set", NS_RSM);
    let child = |n: &str| set.and_then(|s| s.get_child(n, NS_RSM)).map(Element::text);
    (
        fin.attr("complete").map(str::to_string),
        child("first"),
        child("last"),
    )
}

fn bodies(lines: &[(String, String, String)], at: usize) -> Vec<&str> {
    lines
        .iter()
        .map(|l| match at {
            0 => l.0.as_str(),
            1 => l.1.as_str(),
            _ => l.2.as_str(),
        })
        .collect()
}

#[test]
fn lines_are_archived_once_and_read_back_by_mam_and_on_join() {
    let mut rig = rig("irc-mam", "");
    let chan = "#mam";
    let room = room(chan);
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join(chan);
    let alice = rig.user("alice");
    let bob = rig.user("bob");

    // bob was never in the channel: no archive for him, and never a page of someone else's.
    let never = mam(&bob, &room, "", "<max>10</max><before/>");
    assert_eq!(
        error_condition(&never.iq).as_deref(),
        Some("forbidden"),
        "{}",
        String::from(&never.iq)
    );
    assert!(never.lines.is_empty());

    // Room disco: a MUC room (as nbxmpp reads it), with MAM and stanza-ids.
    let id = alice.new_id();
    let info = alice.iq(
        &format!("<iq type='get' id='{id}' to='{room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"),
        &id,
        T,
    );
    let xml = String::from(&info);
    assert!(
        xml.contains("category='conference'") || xml.contains("category=\"conference\""),
        "{xml}"
    );
    assert!(
        xml.contains("type='irc'") || xml.contains("type=\"irc\""),
        "{xml}"
    );
    let parsed = nbxmpp_disco(&xml);
    assert!(parsed.contains("\"is_muc\": true"), "{parsed}");
    for f in ["http://jabber.org/protocol/muc", NS_MAM, NS_SID] {
        assert!(parsed.contains(&format!("\"{f}\"")), "{f}: {parsed}");
    }

    // A first join: nothing to catch up on.
    assert!(join(&alice, &room, "alice", "").is_empty());
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        carol.privmsg(chan, text);
        ids.push(live(&alice, &room, text));
    }
    alice.send(&format!(
        "<message type='groupchat' id='mine-1' to='{room}'><body>mine</body></message>"
    ));
    ids.push(live(&alice, &room, "mine"));
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 4, "one id per line: {ids:?}");

    // The last page, then the page before it: ids are those shown live.
    let last = mam(&alice, &room, "", "<max>2</max><before/>");
    assert_eq!(
        bodies(&last.lines, 2),
        ["three", "mine"],
        "{}",
        String::from(&last.iq)
    );
    assert_eq!(bodies(&last.lines, 1), ["carol", "alice"]);
    assert_eq!(bodies(&last.lines, 0), [ids[2].as_str(), ids[3].as_str()]);
    assert_eq!(
        fin(&last),
        (
            Some("false".into()),
            Some(ids[2].clone()),
            Some(ids[3].clone())
        )
    );
    let before = mam(
        &alice,
        &room,
        "",
        &format!("<max>2</max><before>{}</before>", ids[2]),
    );
    assert_eq!(bodies(&before.lines, 2), ["one", "two"]);
    assert_eq!(fin(&before).0.as_deref(), Some("true"));
    // Filters: by occupant, and after an id.
    let by_carol = mam(
        &alice,
        &room,
        &format!(
            "<field var='with'><value>{}</value></field>",
            escape_xml(&format!("{room}/Carol"))
        ),
        "<max>10</max>",
    );
    assert_eq!(bodies(&by_carol.lines, 2), ["one", "two", "three"]);
    let after = mam(
        &alice,
        &room,
        "",
        &format!("<max>10</max><after>{}</after>", ids[1]),
    );
    assert_eq!(bodies(&after.lines, 2), ["three", "mine"]);
    assert_eq!(fin(&after).0.as_deref(), Some("true"));

    // Failure modes: a bad form, an id the archive does not have.
    let bad = mam(
        &alice,
        &room,
        "<field var='start'><value>yesterday</value></field>",
        "",
    );
    assert_eq!(
        error_condition(&bad.iq).as_deref(),
        Some("bad-request"),
        "{}",
        String::from(&bad.iq)
    );
    let unknown = mam(&alice, &room, "", "<after>0123abcd</after>");
    assert_eq!(
        error_condition(&unknown.iq).as_deref(),
        Some("item-not-found"),
        "{}",
        String::from(&unknown.iq)
    );

    // bob joins: the line both hear is stored once (one id for both), and bob reads only
    // from his join on.
    assert!(
        join(&bob, &room, "bob", "").is_empty(),
        "bob was never in: no history"
    );
    carol.expect(T, "bob's JOIN", |l| l.command == "JOIN" && l.is_from("bob"));
    carol.privmsg(chan, "to both");
    let for_alice = live(&alice, &room, "to both");
    let for_bob = live(&bob, &room, "to both");
    assert_eq!(for_alice, for_bob, "one line, one id");
    let bobs = mam(&bob, &room, "", "<max>10</max>");
    assert_eq!(bodies(&bobs.lines, 2), ["to both"]);
    leave(&bob, &room, "bob");

    // alice leaves; what is said meanwhile is not hers; a rejoin catches her up with the
    // last lines she heard (default on_join), a <history maxstanzas> asks for fewer.
    leave(&alice, &room, "alice");
    carol.expect(T, "alice's PART", |l| {
        l.command == "PART" && l.is_from("alice")
    });
    carol.privmsg(chan, "while away");
    std::thread::sleep(Duration::from_millis(300));
    let history = join(&alice, &room, "alice", "");
    assert_eq!(
        bodies(&history, 1),
        ["one", "two", "three", "mine", "to both"]
    );
    assert_eq!(history[3].0, "alice");
    assert_eq!(history[0].2, ids[0], "history carries the archive's ids");
    leave(&alice, &room, "alice");
    let two = join(&alice, &room, "alice", "<history maxstanzas='2'/>");
    assert_eq!(bodies(&two, 1), ["mine", "to both"]);
    leave(&alice, &room, "alice");
    assert!(join(&alice, &room, "alice", "<history maxstanzas='0'/>").is_empty());

    // slixmpp's XEP-0313 plugin reads the same archive.
    let plugin = mam_client(&rig, "alice", &room, &["--no-join", "--mam-max", "3"]);
    for text in ["mine", "to both"] {
        assert!(
            plugin.contains(&format!("\"body\": \"{text}\"")),
            "{plugin}"
        );
    }
    assert!(!plugin.contains("while away"), "{plugin}");

    // SIGKILL: the archive stays, and new lines sort after the old ones.
    rig.gw.kill9();
    rig.gw = Gateway::start(rig.dir.path(), &rig.config);
    alice.wait_for_service(IRC, Duration::from_secs(30));
    let history = join(&alice, &room, "alice", "<history maxstanzas='1'/>");
    assert_eq!(bodies(&history, 1), ["to both"]);
    carol.expect(T, "alice's JOIN after the restart", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    carol.privmsg(chan, "after the crash");
    let newest = live(&alice, &room, "after the crash");
    let last = mam(&alice, &room, "", "<max>2</max><before/>");
    assert_eq!(bodies(&last.lines, 2), ["to both", "after the crash"]);
    assert_eq!(last.lines[1].0, newest);
}

fn nbxmpp_disco(xml: &str) -> String {
    let out = Command::new("/usr/bin/python3")
        .arg("tests/support/nbxmpp_disco.py")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(xml.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run tests/support/nbxmpp_disco.py (apt package python3-nbxmpp)");
    assert!(
        out.status.success(),
        "nbxmpp_disco.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mam_client(rig: &Rig, user: &str, room: &str, args: &[&str]) -> String {
    let out = Command::new("/usr/bin/python3")
        .arg("tests/support/mam_client.py")
        .args(["--jid", &format!("{user}@localhost"), "--password", "pw"])
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &rig.prosody.c2s_port().to_string(),
        ])
        .args(["--room", room, "--nick", user])
        .args(args)
        .output()
        .expect("run tests/support/mam_client.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "mam_client.py: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}
