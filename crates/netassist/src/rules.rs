//! Automatic answers to received data: `--reply 'PATTERN=>RESPONSE'` rules
//! (Packet Sender's "smart responses") and `--echo`.
//!
//! Rules match the received text line by line: each chunk is split at `\n`, a
//! trailing `\r` is dropped, and every non-empty line is compared with the
//! patterns in order; the first rule that matches answers that line. A pattern
//! of `*` matches any line. Matching works on the chunk as read, so a line that
//! the network splits across two reads is seen as two partial lines.

/// One `PATTERN=>RESPONSE` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRule {
    /// The whole line that triggers the rule, or `*` for any line.
    pub pattern: String,
    /// Text sent back; macros are expanded and `--eol` appended when sent.
    pub response: String,
}

impl ReplyRule {
    /// Parses `PATTERN=>RESPONSE`, splitting at the first `=>`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (pattern, response) = spec
            .split_once("=>")
            .ok_or_else(|| format!("reply rule {spec:?} must look like 'PATTERN=>RESPONSE'"))?;
        if pattern.is_empty() {
            return Err(format!(
                "reply rule {spec:?} has an empty pattern (use '*' to match anything)"
            ));
        }
        Ok(ReplyRule {
            pattern: pattern.to_owned(),
            response: response.to_owned(),
        })
    }

    fn matches(&self, line: &str) -> bool {
        self.pattern == "*" || self.pattern == line
    }
}

/// The responses (rule response templates, in order) that one received chunk
/// of decoded text triggers.
pub fn responses<'r>(rules: &'r [ReplyRule], text: &str) -> Vec<&'r str> {
    if rules.is_empty() {
        return Vec::new();
    }
    text.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.is_empty())
        .filter_map(|line| rules.iter().find(|rule| rule.matches(line)))
        .map(|rule| rule.response.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules(specs: &[&str]) -> Vec<ReplyRule> {
        specs
            .iter()
            .map(|s| ReplyRule::parse(s).expect("valid rule"))
            .collect()
    }

    #[test]
    fn parses_rules() {
        assert_eq!(
            ReplyRule::parse("ping=>pong"),
            Ok(ReplyRule {
                pattern: "ping".into(),
                response: "pong".into()
            })
        );
        // Split at the first arrow: the response may contain one.
        assert_eq!(
            ReplyRule::parse("a=>b=>c").map(|r| r.response),
            Ok("b=>c".into())
        );
        assert!(ReplyRule::parse("ping").is_err());
        assert!(ReplyRule::parse("=>pong").is_err());
    }

    #[test]
    fn matches_whole_lines_first_rule_wins() {
        let r = rules(&["ping=>pong", "你好=>再见", "*=>what?"]);
        assert_eq!(responses(&r, "ping"), vec!["pong"]);
        assert_eq!(responses(&r, "ping\r\n"), vec!["pong"]);
        assert_eq!(
            responses(&r, "ping\nping\n你好\n"),
            vec!["pong", "pong", "再见"]
        );
        assert_eq!(responses(&r, "pingx\n"), vec!["what?"]);
        assert_eq!(responses(&r, "\n\n"), Vec::<&str>::new());
        let exact = rules(&["ping=>pong"]);
        assert_eq!(responses(&exact, "PING\n"), Vec::<&str>::new());
    }

    proptest! {
        #[test]
        fn rule_parsing_never_panics(s in ".{0,40}") {
            let _ = ReplyRule::parse(&s);
        }
    }
}
