//! The new part of a mail reply: what the sender wrote above the quote.
//!
//! Mail clients quote the message they answer in many ways; the common ones are cut here:
//! `>`-quoted lines, the attribution line that introduces them ("On Mon, … Bob wrote:",
//! also when wrapped onto two lines, and its French and German forms), Outlook's
//! "-----Original Message-----" and underscore rules, and the signature after "-- ".
//!
//! Linear in the body: each line is looked at a bounded number of times.

/// What the sender wrote, without the quoted message and the signature.
pub fn new_text(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        if line.is_empty() {
            kept.push(line);
            i += 1;
            continue;
        }
        if is_signature(line) || is_outlook_separator(line) {
            break;
        }
        if is_attribution(line) {
            break;
        }
        // An attribution wrapped onto two lines, right above a quote. (Only a line that
        // starts like one is joined with the next: no allocation per line.)
        if let Some(next) = lines.get(i + 1).filter(|_| starts_like_attribution(line)) {
            let joined = format!("{} {}", line.trim(), next.trim());
            let quote_follows = lines
                .get(i + 2)
                .is_some_and(|l| l.trim_start().starts_with('>') || l.trim().is_empty());
            if is_attribution(&joined) && quote_follows {
                break;
            }
        }
        if !line.trim_start().starts_with('>') {
            kept.push(line);
        }
        i += 1;
    }
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    // Leading blank lines are skipped in one step (removing them one by one from the
    // front is quadratic: a mail of blank lines would keep a core busy for hours).
    let first = kept
        .iter()
        .position(|l| !l.trim().is_empty())
        .unwrap_or(kept.len());
    kept[first..].join("\n")
}

fn is_signature(line: &str) -> bool {
    line == "--" || line == "-- "
}

fn is_outlook_separator(line: &str) -> bool {
    let t = line.trim();
    t.eq_ignore_ascii_case("-----Original Message-----")
        || (t.len() >= 20 && t.chars().all(|c| c == '_'))
}

/// Whether a line begins as an attribution does ("On ", "Le ", "Am ").
fn starts_like_attribution(line: &str) -> bool {
    line.trim_start().get(..3).is_some_and(|start| {
        ["on ", "le ", "am "]
            .iter()
            .any(|p| start.eq_ignore_ascii_case(p))
    })
}

fn is_attribution(line: &str) -> bool {
    if !starts_like_attribution(line) {
        return false;
    }
    let t = line.trim();
    let lower = t.to_lowercase();
    (lower.starts_with("on ") && lower.ends_with("wrote:"))
        || (lower.starts_with("le ")
            && (lower.ends_with("a écrit :") || lower.ends_with("a écrit:")))
        || (lower.starts_with("am ") && lower.ends_with(':') && lower.contains("schrieb"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_answer_and_drops_quote_attribution_and_signature() {
        let body = "Sounds good, see you at 5.\n\nAlice\n\nOn Mon, 23 Nov 2026 at 09:12, Bob <bob@example.net> wrote:\n> Lunch?\n> -- \n> Bob\n";
        assert_eq!(new_text(body), "Sounds good, see you at 5.\n\nAlice");
        let signed = "Yes.\n-- \nAlice Example\nACME Corp\n";
        assert_eq!(new_text(signed), "Yes.");
    }

    #[test]
    fn wrapped_attributions_outlook_and_other_languages() {
        let wrapped = "Fine by me.\n\nOn Mon, 23 Nov 2026 at 09:12, Bob Example\n<bob@example.net> wrote:\n\n> Lunch?\n";
        assert_eq!(new_text(wrapped), "Fine by me.");
        let outlook = "OK\r\n\r\n-----Original Message-----\r\nFrom: Bob\r\nSubject: Lunch\r\n";
        assert_eq!(new_text(outlook), "OK");
        assert_eq!(
            new_text("Oui\nLe lun. 23 nov. 2026, Bob a écrit :\n> Déjeuner ?"),
            "Oui"
        );
        assert_eq!(
            new_text("Ja\nAm 23.11.2026 um 09:12 schrieb Bob:\n> Mittag?"),
            "Ja"
        );
    }

    #[test]
    fn inline_answers_keep_their_own_lines() {
        let inline = "> Are you coming?\nYes\n> At five?\nAt six\n";
        assert_eq!(new_text(inline), "Yes\nAt six");
        assert_eq!(
            new_text("Just text,\non two lines."),
            "Just text,\non two lines."
        );
    }
}
