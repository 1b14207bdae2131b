//! Hostile and unlucky MUC use end to end (issue 11, points 5 and 6): Prosody killed and
//! restarted under a user in an IRC channel, a leave and a join crossing the IRC PART,
//! XEP-0410 self-pings, and digests of rooms and channels only for those who may read them
//! (hostile.md M1, L4). Real Prosody, InspIRCd, aiosmtpd, the gateway binary, slixmpp users
//! and raw IRC clients.

mod common;
#[path = "hostile_muc/digests.rs"]
mod digests;
#[path = "hostile_muc/rig.rs"]
mod rig;
#[path = "hostile_muc/rooms.rs"]
mod rooms;

use common::mail::{vouch, MAIL};
use common::{command_note, error_condition, error_text, run_command, IrcClient, NS_CLIENT};
use digests::*;
use rig::*;
use rooms::*;
use std::time::Duration;

#[test]
fn after_prosody_is_killed_and_restarted_a_rejoin_gets_the_full_join_and_messages_flow() {
    let mut rig = rig("hostile-muc-restart", "");
    let dave = IrcClient::connect(rig.ircd.port(), "dave");
    dave.join("#hot");
    dave.send("TOPIC #hot :before the crash");
    let room = channel("#hot");
    let alice = rig.user("alice@localhost/phone");
    send_join(&alice, &room, "alice");
    expect_full_join(&alice, &room, "alice", "dave");
    dave.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    talk_both_ways(&alice, &room, "alice", &dave, "#hot", "before");
    // Her laptop is in too; it will not come back.
    let laptop = rig.user("alice@localhost/laptop");
    send_join(&laptop, &room, "alice");
    expect_full_join(&laptop, &room, "alice", "dave");

    // Prosody dies without a word to anyone; alice's clients and the component link drop.
    rig.prosody.kill9();
    alice.expect_event(T, "disconnected");
    laptop.expect_event(T, "disconnected");
    drop(alice);
    drop(laptop);
    rig.prosody.restart();
    // The IRC session never ended: dave sees no PART or QUIT from alice meanwhile.
    let alice = rig.user("alice@localhost/phone");
    send_join(&alice, &room, "alice");
    expect_full_join(&alice, &room, "alice", "dave");
    // Answered from the gateway's state: no new JOIN on IRC (alice never left).
    dave.expect_none(Duration::from_secs(1), |l| {
        l.is_from("alice") && matches!(l.command.as_str(), "JOIN" | "PART" | "QUIT")
    });
    talk_both_ways(&alice, &room, "alice", &dave, "#hot", "after");

    // Failure mode: a presence update (no <x xmlns='…muc'/>) is not a join; nothing is
    // replayed.
    alice.send(&format!(
        "<presence to='{room}/alice'><show>away</show></presence>"
    ));
    alice.expect_none(Duration::from_secs(1), |s| {
        s.name() == "message" && s.get_child("subject", NS_CLIENT).is_some()
    });
    // The laptop is a ghost: its server bounced dave's message to it, so it left the room,
    // and the phone leaving now is the last one out: alice PARTs on IRC.
    rig.gw.wait_for_log("A resource in a room is gone", T);
    alice.send(&format!("<presence to='{room}/alice' type='unavailable'/>"));
    dave.expect(T, "alice's PART once no resource is left", |l| {
        l.command == "PART" && l.is_from("alice")
    });
}

#[test]
fn a_leave_and_an_immediate_rejoin_end_in_the_room() {
    let rig = rig("hostile-muc-rejoin", "");
    let dave = IrcClient::connect(rig.ircd.port(), "dave");
    dave.join("#hot");
    let room = channel("#hot");
    let alice = rig.user("alice@localhost/phone");
    send_join(&alice, &room, "alice");
    expect_full_join(&alice, &room, "alice", "dave");
    dave.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });

    // Left and back at once: both sent before IRC can have confirmed the PART.
    alice.send(&format!("<presence to='{room}/alice' type='unavailable'/>"));
    send_join(&alice, &room, "alice");
    let me = format!("{room}/alice");
    alice.expect(T, "the goodbye", |s| {
        s.attr("from") == Some(&me) && s.attr("type") == Some("unavailable")
    });
    dave.expect(T, "alice's PART", |l| {
        l.command == "PART" && l.is_from("alice")
    });
    dave.expect(T, "alice's JOIN again", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    expect_full_join(&alice, &room, "alice", "dave");
    // One goodbye only, and she stays.
    alice.expect_none(Duration::from_secs(2), |s| {
        s.attr("from") == Some(&me) && s.attr("type") == Some("unavailable")
    });
    talk_both_ways(&alice, &room, "alice", &dave, "#hot", "rejoined");

    // Failure mode: a leave with no rejoin leaves IRC and says goodbye once; no JOIN.
    alice.send(&format!("<presence to='{room}/alice' type='unavailable'/>"));
    alice.expect(T, "the goodbye", |s| {
        s.attr("from") == Some(&me) && s.attr("type") == Some("unavailable")
    });
    dave.expect(T, "alice's PART", |l| {
        l.command == "PART" && l.is_from("alice")
    });
    dave.expect_none(Duration::from_secs(2), |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    alice.expect_none(Duration::from_millis(500), |s| {
        s.name() == "presence" && s.attr("from") == Some(&me)
    });
    // And her messages are refused now.
    say(&alice, &room, "after-leave", "anyone?");
    let refused = alice.expect(T, "an error for a message to a room left", |s| {
        s.attr("id") == Some("after-leave") && s.attr("type") == Some("error")
    });
    assert!(error_condition(&refused).is_some());
}

#[test]
fn self_pings_are_answered_result_when_joined_and_not_acceptable_otherwise() {
    let rig = rig("hostile-muc-ping", "");
    let dave = IrcClient::connect(rig.ircd.port(), "dave");
    dave.join("#hot");
    let room = channel("#hot");
    let me = format!("{room}/alice");
    let alice = rig.user("alice@localhost/phone");
    let laptop = rig.user("alice@localhost/laptop");

    // Not joined: not-acceptable (never a timeout or remote-server-not-found).
    let before = ping(&alice, &me);
    assert_eq!(error_condition(&before).as_deref(), Some("not-acceptable"));
    send_join(&alice, &room, "alice");
    expect_full_join(&alice, &room, "alice", "dave");
    let joined = ping(&alice, &me);
    assert_eq!(
        joined.attr("type"),
        Some("result"),
        "{}",
        String::from(&joined)
    );
    // Her other resource is not in the room.
    let other = ping(&laptop, &me);
    assert_eq!(error_condition(&other).as_deref(), Some("not-acceptable"));
    // Another occupant: answered for (the network says dave is in); nobody: item-not-found.
    let occupant = ping(&alice, &format!("{room}/dave"));
    assert_eq!(occupant.attr("type"), Some("result"));
    let nobody = ping(&alice, &format!("{room}/nobody"));
    assert_eq!(error_condition(&nobody).as_deref(), Some("item-not-found"));
    // A stranger to the gateway (bob has no session): not-acceptable, and no session opens.
    let bob = rig.user("bob@localhost/pc");
    let stranger = ping(&bob, &me);
    assert_eq!(
        error_condition(&stranger).as_deref(),
        Some("not-acceptable")
    );
    dave.expect_none(Duration::from_millis(500), |l| l.is_from("bob"));
    // Gone: not-acceptable again.
    alice.send(&format!("<presence to='{me}' type='unavailable'/>"));
    alice.expect(T, "the goodbye", |s| {
        s.attr("from") == Some(&me) && s.attr("type") == Some("unavailable")
    });
    let after = ping(&alice, &me);
    assert_eq!(error_condition(&after).as_deref(), Some("not-acceptable"));
}

#[test]
fn a_digest_of_a_members_only_room_or_a_channel_is_only_for_those_in_it() {
    let rig = rig("hostile-muc-digest", "");
    let alice = rig.user("alice@localhost/phone");
    let bob = rig.user("bob@localhost/pc");

    // Alice owns a members-only room.
    join_muc(&alice, SECRET_ROOM, "alice");
    let id = alice.new_id();
    let configured = alice.iq(
        &format!(
            "<iq type='set' id='{id}' to='{SECRET_ROOM}'><query xmlns='http://jabber.org/protocol/muc#owner'>\
             <x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
             <field var='muc#roomconfig_membersonly'><value>1</value></field>\
             <field var='{{http://prosody.im/protocol/muc}}roomconfig_allowmemberinvites'><value>1</value></field>\
             </x></query></iq>"
        ),
        &id,
        T,
    );
    assert_eq!(
        configured.attr("type"),
        Some("result"),
        "{}",
        String::from(&configured)
    );

    // M1 as hostile.md reproduces it: bob, no member, asks for the room's digest (the
    // form in the execute request).
    let refused = common::run_command_at_once(
        &bob,
        MAIL,
        "digest-subscribe",
        &[
            ("source", SECRET_ROOM),
            ("address", "bob@example.net"),
            ("every", "30m"),
        ],
    );
    assert_forbidden(&refused, "invite mail.localhost");
    let code = error_text(&refused)
        .split("with the reason ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .map(str::to_string)
        .expect("a code");
    // He cannot get the room to vouch for him: it refuses his invitation.
    bob.send(&format!(
        "<message to='{SECRET_ROOM}' id='bob-invite'><x xmlns='{NS_MUC_USER}'><invite to='{MAIL}'><reason>{code}</reason></invite></x></message>"
    ));
    let no = bob.expect(T, "the room refusing bob's invitation", |s| {
        s.attr("id") == Some("bob-invite") && s.attr("type") == Some("error")
    });
    assert_eq!(error_condition(&no).as_deref(), Some("forbidden"));
    assert_forbidden(&subscribe(&bob, SECRET_ROOM, "bob@example.net"), "invite");
    // Nothing was mailed to bob's address.
    assert!(rig.capture.try_mail(Duration::from_millis(500)).is_none());

    // Alice, a member, invites the transport from inside and is accepted; the invitation
    // also made the transport a member, so its occupant gets in once she confirms.
    vouch(&alice, &rig.gw, SECRET_ROOM);
    assert_accepted(&subscribe(&alice, SECRET_ROOM, "alice@example.net"));
    let code = code_of(rig.capture.expect_mail(T).text().unwrap_or_default());
    let verified = run_command(&alice, MAIL, "digest-verify", &[("code", &code)]);
    assert!(command_note(&verified).starts_with("Confirmed."));
    let digest_occupant = format!("{SECRET_ROOM}/digest");
    alice.expect(T, "the gateway's occupant in the members-only room", |s| {
        s.name() == "presence"
            && s.attr("from") == Some(&digest_occupant)
            && s.attr("type").is_none()
    });
    // Bob still cannot: alice's invitation vouches for alice only.
    assert_forbidden(&subscribe(&bob, SECRET_ROOM, "bob@example.net"), "invite");
    // Carol, a plain member (the room lets members invite), is accepted the same way.
    let id = alice.new_id();
    let made_member = alice.iq(
        &format!(
            "<iq type='set' id='{id}' to='{SECRET_ROOM}'><query xmlns='http://jabber.org/protocol/muc#admin'>\
             <item affiliation='member' jid='carol@localhost'/></query></iq>"
        ),
        &id,
        T,
    );
    assert_eq!(
        made_member.attr("type"),
        Some("result"),
        "{}",
        String::from(&made_member)
    );
    let carol = rig.user("carol@localhost/pc");
    join_muc(&carol, SECRET_ROOM, "carol");
    vouch(&carol, &rig.gw, SECRET_ROOM);
    assert_accepted(&subscribe(&carol, SECRET_ROOM, "carol@example.net"));
    rig.capture.expect_mail(T);

    // An IRC channel: only for those in it through the gateway.
    let dave = IrcClient::connect(rig.ircd.port(), "dave");
    dave.join("#hot");
    let hot = channel("#hot");
    assert_forbidden(
        &subscribe(&bob, &hot, "bob@example.net"),
        "through this gateway first",
    );
    send_join(&alice, &hot, "alice");
    expect_full_join(&alice, &hot, "alice", "dave");
    assert_accepted(&subscribe(&alice, &hot, "alice2@example.net"));
    assert_forbidden(
        &subscribe(&bob, &hot, "bob@example.net"),
        "through this gateway first",
    );
}

#[test]
fn digests_of_many_channels_do_not_use_up_anyones_channels() {
    // One channel per user, two followed for digests over everyone.
    let rig = rig(
        "hostile-muc-followed",
        "  max_channels_per_user: 1\n  max_followed_channels: 2\n",
    );
    let dave = IrcClient::connect(rig.ircd.port(), "dave");
    for chan in ["#one", "#two", "#three"] {
        dave.join(chan);
    }
    let users = [
        ("alice", "#one", rig.user("alice@localhost/phone")),
        ("bob", "#two", rig.user("bob@localhost/pc")),
        ("carol", "#three", rig.user("carol@localhost/pc")),
    ];
    for (name, chan, agent) in &users {
        send_join(agent, &channel(chan), name);
        expect_full_join(agent, &channel(chan), name, "dave");
        let answer = subscribe(agent, &channel(chan), &format!("{name}@example.net"));
        assert_accepted(&answer);
        let code = code_of(rig.capture.expect_mail(T).text().unwrap_or_default());
        let verified = run_command(agent, MAIL, "digest-verify", &[("code", &code)]);
        assert!(command_note(&verified).starts_with("Confirmed."));
        if *chan != "#three" {
            // Followed, although the shared identity is in more channels than one user may be.
            dave.expect(T, "the digest identity joining", |l| {
                l.command == "JOIN"
                    && l.is_from("digest")
                    && l.params.first().map(String::as_str) == Some(*chan)
            });
        }
    }
    // The third is over the followed limit: its subscriber sees why in digest-list; the
    // users' own channels are untouched (each is still in theirs and can talk).
    let carol = &users[2].2;
    let deadline = std::time::Instant::now() + T;
    loop {
        let note = command_note(&common::run_command_at_once(
            carol,
            MAIL,
            "digest-list",
            &[],
        ));
        if note.contains("channels already") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no problem shown: {note}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for (name, chan, agent) in &users {
        talk_both_ways(agent, &channel(chan), name, &dave, chan, name);
    }
}
