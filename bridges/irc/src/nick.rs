//! Names as IRC nicks.

/// `name` as an IRC nick: only the characters nicks may hold, not starting with a digit
/// or `-`, at most 30 bytes.
pub fn valid_nick(name: &str) -> String {
    let nick: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-[]\\`^{}|".contains(*c))
        .take(30)
        .collect();
    nick.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::valid_nick;

    #[test]
    fn names_become_valid_nicks() {
        assert_eq!(valid_nick("alice"), "alice");
        assert_eq!(valid_nick("bob.smith+irc"), "bobsmithirc");
        assert_eq!(valid_nick("42-answer"), "answer");
        assert_eq!(valid_nick("ünïcode"), "ncode");
        assert_eq!(valid_nick(&"x".repeat(40)).len(), 30);
        assert_eq!(valid_nick("---"), "");
    }
}
