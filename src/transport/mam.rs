//! The room archive toward users: MAM queries on a room JID (XEP-0313) and the history a
//! join gets (XEP-0045 §7.2.15), both answered from the archive as the asking user may
//! read it.

use super::iq::{unsupported, Answer};
use super::Transport;
use crate::archive::{self, parse_line_id, Archive};
use crate::config::MAX_ON_JOIN;
use crate::store::archive::{ArchiveAnswer, ArchiveQuery, ArchivedRow, PageFrom};
use crate::xmpp::history::{self, HistoryRequest};
use crate::xmpp::mam::{self, ArchivedLine, Page};
use minidom::Element;
use std::sync::Arc;
use switchboard_bridge::{Chat, GroupId, LoginId};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

fn line(row: ArchivedRow) -> ArchivedLine {
    ArchivedLine {
        id: archive::line_id(row.seq),
        nick: row.nick,
        body: row.body,
        at: archive::from_us(row.seq),
    }
}

impl Transport {
    /// An iq to a room JID with `<query xmlns='urn:xmpp:mam:2'/>`: the form's fields (get),
    /// or a page of the archive (set), whose results go to the asker before the answer.
    pub(super) async fn mam_iq(
        self: &Arc<Self>,
        from: &Jid,
        local: &str,
        payload: &Element,
        is_set: bool,
    ) -> Answer {
        let Some(archive) = self.archive.clone() else {
            return unsupported("a message archive");
        };
        let group = match self.connector.parse_address(local) {
            Ok(Chat::Group(group)) => group,
            Ok(Chat::Direct(_)) => return unsupported("an archive of one-to-one chats"),
            Err(e) => return Answer::Bridge(e),
        };
        if !is_set {
            return Answer::Result(Some(mam::query_form()));
        }
        let Some(room) = self.room_jid(&group) else {
            return unsupported("this room");
        };
        let q = match mam::parse_query(payload, &room) {
            Ok(q) => q,
            Err(text) => {
                return Answer::Error(ErrorType::Modify, DefinedCondition::BadRequest, text)
            }
        };
        let from_page = match &q.page {
            Page::First => PageFrom::First,
            Page::Last => PageFrom::Last,
            Page::After(id) | Page::Before(id) => {
                let Some(seq) = parse_line_id(id) else {
                    return not_found(id);
                };
                match q.page {
                    Page::After(_) => PageFrom::After(seq),
                    _ => PageFrom::Before(seq),
                }
            }
        };
        let Some(login) = self.known_login(&from.to_bare()).await else {
            return never_in();
        };
        let mut wanted = ArchiveQuery::page(from_page, q.max);
        wanted.start = q.start.map(archive::to_us);
        wanted.end = q.end.map(archive::to_us);
        wanted.nick = q.with.clone();
        let page = match archive.query(&login, &group, wanted).await {
            Ok(ArchiveAnswer::Page(page)) => page,
            Ok(ArchiveAnswer::NeverIn) => return never_in(),
            Ok(ArchiveAnswer::UnknownLine) => {
                return not_found(match &q.page {
                    Page::After(id) | Page::Before(id) => id,
                    _ => "",
                })
            }
            Err(e) => {
                tracing::error!(domain = %self.domain, error = %e, "Reading the archive failed");
                return Answer::Error(
                    ErrorType::Wait,
                    DefinedCondition::InternalServerError,
                    "the archive cannot be read right now; try again later".into(),
                );
            }
        };
        let lines: Vec<ArchivedLine> = page.rows.into_iter().map(line).collect();
        for l in &lines {
            self.forward_stanza(mam::result_message(&room, from, q.query_id.as_deref(), l))
                .await;
        }
        let (first, last) = (lines.first(), lines.last());
        Answer::Result(Some(mam::fin(
            page.complete,
            first.map(|l| l.id.as_str()),
            last.map(|l| l.id.as_str()),
        )))
    }

    /// The login of a user who has one (a MAM query never makes one).
    async fn known_login(&self, jid: &BareJid) -> Option<LoginId> {
        if let Some(login) = self.sessions().login_of(jid) {
            return Some(login);
        }
        match self.store.registration(&self.domain, jid.as_str()).await {
            Ok(reg) => reg.map(|r| r.login),
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read a registration");
                None
            }
        }
    }

    /// The history a joining resource gets, oldest first, as stanzas to it.
    pub(super) async fn history_for(
        &self,
        login: &LoginId,
        group: &GroupId,
        room: &BareJid,
        to: &Jid,
        asked: Option<&HistoryRequest>,
    ) -> Vec<Stanza> {
        let Some(archive) = &self.archive else {
            return Vec::new();
        };
        let (max, since) = history::limits(
            asked,
            archive.config().on_join,
            MAX_ON_JOIN,
            std::time::SystemTime::now(),
        );
        if max == 0 {
            return Vec::new();
        }
        let mut wanted = ArchiveQuery::page(PageFrom::Last, max);
        wanted.start = since.map(archive::to_us);
        match Archive::query(archive, login, group, wanted).await {
            Ok(ArchiveAnswer::Page(page)) => page
                .rows
                .into_iter()
                .map(|row| history::history_message(room, to, &line(row)).into())
                .collect(),
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::warn!(domain = %self.domain, error = %e, "No history on join: the archive cannot be read");
                Vec::new()
            }
        }
    }
}

fn never_in() -> Answer {
    Answer::Error(
        ErrorType::Auth,
        DefinedCondition::Forbidden,
        "you have not been in this room while the gateway archived it".into(),
    )
}

fn not_found(id: &str) -> Answer {
    Answer::Error(
        ErrorType::Cancel,
        DefinedCondition::ItemNotFound,
        format!(
            "no message '{}' in this room's archive",
            crate::xmpp::text::xml_text(&id.chars().take(64).collect::<String>())
        ),
    )
}
