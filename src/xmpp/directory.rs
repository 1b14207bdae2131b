//! A network's group list as disco#items, paged with XEP-0059 (Result Set Management).

use switchboard_bridge::{GroupId, GroupListing};
use xmpp_parsers::disco::{DiscoItemsResult, Item};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::rsm::{First, SetQuery, SetResult};

/// Items per page when the client does not say, and at most.
pub const PAGE: usize = 100;

/// One page of `listings` (sorted by name) as disco#items; `jid_of` gives a group's JID.
/// Pages are keyed by group id: `after`/`before` name the last/first item of the page the
/// client saw.
pub fn page(
    mut listings: Vec<GroupListing>,
    rsm: Option<&SetQuery>,
    jid_of: impl Fn(&GroupId) -> Option<Jid>,
) -> DiscoItemsResult {
    listings.sort_by_cached_key(|l| l.name.to_lowercase());
    let count = listings.len();
    let max = rsm.and_then(|r| r.max).unwrap_or(PAGE).min(PAGE);
    let position = |id: &str| listings.iter().position(|l| l.group.as_str() == id);
    let (start, end) = match (
        rsm.and_then(|r| r.after.as_deref()),
        rsm.and_then(|r| r.before.as_deref()),
    ) {
        (Some(after), _) => {
            let start = position(after).map_or(count, |i| i + 1);
            (start, (start + max).min(count))
        }
        (None, Some(before)) => {
            let end = if before.is_empty() {
                count
            } else {
                position(before).unwrap_or(0)
            };
            (end.saturating_sub(max), end)
        }
        (None, None) => {
            let start = rsm.and_then(|r| r.index).unwrap_or(0).min(count);
            (start, (start + max).min(count))
        }
    };
    let window = &listings[start..end];
    let items = window
        .iter()
        .filter_map(|l| {
            // Names (and topics in them) come from the network's LIST.
            let name = super::text::xml_string(match l.members {
                Some(n) => format!("{} ({n})", l.name),
                None => l.name.clone(),
            });
            Some(Item {
                jid: jid_of(&l.group)?,
                node: None,
                name: Some(name),
            })
        })
        .collect();
    let rsm = rsm.map(|_| SetResult {
        first: window.first().map(|l| First {
            index: Some(start),
            item: l.group.to_string(),
        }),
        last: window.last().map(|l| l.group.to_string()),
        count: Some(count),
    });
    DiscoItemsResult {
        node: None,
        items,
        rsm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listings(n: usize) -> Vec<GroupListing> {
        (0..n)
            .map(|i| GroupListing {
                group: GroupId::new(format!("#c{i:03}%net")),
                name: format!("#c{i:03}"),
                members: Some(i as u32),
                topic: String::new(),
            })
            .collect()
    }

    fn jid(g: &GroupId) -> Option<Jid> {
        Jid::new(&format!("{}@irc.test", g.as_str())).ok()
    }

    #[test]
    fn pages_forward_with_after() {
        let q = SetQuery {
            max: Some(2),
            after: None,
            before: None,
            index: None,
        };
        let first = page(listings(5), Some(&q), jid);
        let names: Vec<_> = first
            .items
            .iter()
            .map(|i| i.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["#c000 (0)", "#c001 (1)"]);
        let rsm = first.rsm.unwrap();
        assert_eq!(
            (rsm.count, rsm.last.as_deref()),
            (Some(5), Some("#c001%net"))
        );
        let q = SetQuery {
            max: Some(2),
            after: rsm.last,
            before: None,
            index: None,
        };
        let second = page(listings(5), Some(&q), jid);
        assert_eq!(second.items[0].jid.to_string(), "#c002%net@irc.test");
        assert_eq!(second.rsm.unwrap().first.unwrap().index, Some(2));
    }

    #[test]
    fn last_page_with_empty_before_and_no_rsm_caps_at_page() {
        let q = SetQuery {
            max: Some(2),
            after: None,
            before: Some(String::new()),
            index: None,
        };
        let last = page(listings(5), Some(&q), jid);
        let names: Vec<_> = last.items.iter().map(|i| i.name.clone().unwrap()).collect();
        assert_eq!(names, ["#c003 (3)", "#c004 (4)"]);
        let all = page(listings(PAGE + 5), None, jid);
        assert_eq!(all.items.len(), PAGE);
        assert!(all.rsm.is_none());
    }

    #[test]
    fn listed_names_are_made_fit_for_xml() {
        let mut l = listings(2);
        l[0].name = "#c\u{7}000".into();
        let items = page(l, None, jid).items;
        assert_eq!(items[0].name.as_deref(), Some("#c000 (0)"));
        // A channel whose name no JID can hold is left out, not mangled into another.
        let mut l = listings(2);
        l[0].group = GroupId::new("#c\u{7}%net".to_string());
        let items = page(l, None, jid);
        assert_eq!(items.items.len(), 1);
        assert_eq!(items.items[0].jid.to_string(), "#c001%net@irc.test");
    }
}
