use super::*;

#[test]
fn a_nick_is_mentioned_as_a_word_whatever_its_case() {
    assert!(mentions("alice: are you there?", "alice"));
    assert!(mentions("ping ALICE.", "alice"));
    assert!(mentions("hey [alice]", "[alice]"));
    assert!(!mentions("malice aforethought", "alice"));
    assert!(!mentions("alice_ is someone else", "alice"));
    assert!(!mentions("anything", ""));
}

#[test]
fn a_return_catches_up_unless_the_join_asks_otherwise() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
    let caught = catch_up(None, Some(t)).unwrap();
    assert_eq!(
        (caught.max_stanzas, caught.since),
        (Some(MAX_ON_JOIN), Some(t))
    );
    let asked = HistoryRequest {
        max_stanzas: Some(0),
        ..Default::default()
    };
    assert_eq!(catch_up(Some(asked.clone()), Some(t)), Some(asked));
    assert_eq!(catch_up(None, None), None);
}

#[test]
fn highlights_are_capped_per_window() {
    let mut room = Room::default();
    for _ in 0..HIGHLIGHTS {
        assert!(room.take_highlight());
    }
    assert!(!room.take_highlight());
}

#[test]
fn settings_read_from_older_or_partial_json_keep_the_defaults() {
    let s: RoomSettings = serde_json::from_str(r#"{"persistent":true}"#).unwrap();
    assert!(s.persistent && s.record_history && s.nick.is_none());
}
