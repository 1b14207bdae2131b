//! Schema migrations, applied in order; `PRAGMA user_version` records how far.

/// Each entry moves the schema one version up. Never edit a released entry; add one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: registrations, settings, outbox, receipts awaited
    r#"
    CREATE TABLE registrations (
        login_id   TEXT PRIMARY KEY,
        transport  TEXT NOT NULL,
        jid        TEXT NOT NULL,
        data       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (transport, jid)
    );
    CREATE TABLE settings (
        login_id TEXT NOT NULL REFERENCES registrations(login_id) ON DELETE CASCADE,
        key      TEXT NOT NULL,
        value    TEXT NOT NULL,
        PRIMARY KEY (login_id, key)
    );
    CREATE TABLE outbox (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        transport     TEXT NOT NULL,
        login_id      TEXT NOT NULL,
        sender        TEXT NOT NULL,
        recipient     TEXT NOT NULL,
        stanza_id     TEXT,
        wants_receipt INTEGER NOT NULL,
        message       TEXT NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
    );
    CREATE INDEX outbox_by_login ON outbox (login_id, id);
    CREATE TABLE receipts (
        txn        TEXT PRIMARY KEY,
        login_id   TEXT NOT NULL,
        sender     TEXT NOT NULL,
        recipient  TEXT NOT NULL,
        stanza_id  TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    "#,
    // 2: a key-value store private to each transport's bridge
    r#"
    CREATE TABLE bridge_kv (
        transport  TEXT NOT NULL,
        key        TEXT NOT NULL,
        value      TEXT NOT NULL,
        expires_at INTEGER,
        PRIMARY KEY (transport, key)
    );
    "#,
    // 3: events from bridges stored before they are acknowledged, and the keys of events
    // already taken (deduplication)
    r#"
    CREATE TABLE inbound (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        transport  TEXT NOT NULL,
        recipient  TEXT NOT NULL,
        event      TEXT NOT NULL,
        stanza_id  TEXT NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX inbound_by_transport ON inbound (transport, id);
    CREATE TABLE inbound_seen (
        transport  TEXT NOT NULL,
        key        TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (transport, key)
    );
    CREATE INDEX inbound_seen_expiry ON inbound_seen (expires_at);
    "#,
    // 4: the room archive: each line once per room, and when each login was in the room
    r#"
    CREATE TABLE archive_rooms (
        id        INTEGER PRIMARY KEY,
        transport TEXT NOT NULL,
        grp       TEXT NOT NULL,
        UNIQUE (transport, grp)
    );
    CREATE TABLE archive_lines (
        room INTEGER NOT NULL,
        seq  INTEGER NOT NULL,
        nick TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (room, seq)
    ) WITHOUT ROWID;
    CREATE INDEX archive_lines_by_nick ON archive_lines (room, nick COLLATE NOCASE, seq);
    CREATE TABLE archive_spans (
        room     INTEGER NOT NULL,
        login_id TEXT NOT NULL,
        since    INTEGER NOT NULL,
        until    INTEGER,
        PRIMARY KEY (room, login_id, since)
    ) WITHOUT ROWID;
    "#,
];
