//! HTML for digests (escaping) and from mail (reduced to text).

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Elements after which text continues on a new line.
const BLOCKS: &[&str] = &[
    "br",
    "p",
    "div",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "hr",
];

/// Blocks followed by a blank line.
const PARAGRAPHS: &[&str] = &["p", "div", "blockquote", "pre", "table", "ul", "ol"];

/// The text of an HTML mail part: tags dropped (with line breaks for block elements),
/// `script`/`style`/`head` content dropped, entities decoded, blank lines squeezed.
/// Enough for mail bodies; not a general HTML renderer.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut skip_until: Option<&'static str> = None;
    while let Some(lt) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&decode_entities(&rest[..lt]));
        }
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after[..gt].trim();
        rest = &after[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(end) = skip_until {
            if closing && name == end {
                skip_until = None;
            }
            continue;
        }
        match name.as_str() {
            "script" if !closing => skip_until = Some("script"),
            "style" if !closing => skip_until = Some("style"),
            "head" if !closing => skip_until = Some("head"),
            // A block starts on a new line; after a paragraph-like block comes a blank one.
            n if BLOCKS.contains(&n) && (!closing || PARAGRAPHS.contains(&n)) => out.push('\n'),
            _ => {}
        }
    }
    if skip_until.is_none() {
        out.push_str(&decode_entities(rest));
    }
    squeeze(&out)
}

/// Collapses spaces within lines and more than one blank line between paragraphs.
fn squeeze(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        // Only the next few bytes can hold the `;` of an entity: looking further (to the
        // end of the text, for every `&`) would be quadratic.
        let window = &after.as_bytes()[..after.len().min(MAX_ENTITY + 1)];
        let entity = window
            .iter()
            .position(|&b| b == b';')
            .and_then(|semi| Some((decode_entity(&after[..semi])?, semi)));
        match entity {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Longest entity name between `&` and `;` that is decoded (`#x10FFFF` is 8).
const MAX_ENTITY: usize = 10;

fn decode_entity(name: &str) -> Option<char> {
    let code = match name {
        "amp" => return Some('&'),
        "lt" => return Some('<'),
        "gt" => return Some('>'),
        "quot" => return Some('"'),
        "apos" => return Some('\''),
        "nbsp" => return Some(' '),
        n if n.starts_with("#x") || n.starts_with("#X") => u32::from_str_radix(&n[2..], 16).ok()?,
        n if n.starts_with('#') => n[1..].parse().ok()?,
        _ => return None,
    };
    char::from_u32(code)
        .filter(|c| (!c.is_control() || *c == '\n' || *c == '\t') && !is_noncharacter(*c))
}

/// U+FFFE and U+FFFF, which XML does not allow either.
fn is_noncharacter(c: char) -> bool {
    matches!(c, '\u{fffe}' | '\u{ffff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn html_mail_becomes_readable_text() {
        let html = "<html><head><title>T</title><style>p{color:red}</style></head>\
            <body><p>Hello&nbsp;<b>Bob</b>,</p><p>Fish &amp; chips at 5&lt;6?</p>\
            <script>evil()</script><ul><li>one</li><li>two &#x1F41F;</li></ul>\
            <div>Bye<br>Alice</div></body></html>";
        assert_eq!(
            to_text(html),
            "Hello Bob,\n\nFish & chips at 5<6?\n\none\ntwo 🐟\n\nBye\nAlice"
        );
        assert_eq!(to_text("a &bogus; &#0; b <unclosed"), "a &bogus; &#0; b");
    }
}
