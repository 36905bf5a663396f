//! Reading the mail a test made a service send, as a mail client would.

use std::path::Path;

/// One message: first recipient, decoded subject and text body.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Parses one raw message (RFC 5322, any transfer encoding).
pub fn parse(raw: &[u8]) -> Mail {
    let m = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a mail message");
    Mail {
        to: m
            .to()
            .and_then(|t| t.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string(),
        subject: m.subject().unwrap_or_default().to_string(),
        text: m.body_text(0).unwrap_or_default().to_string(),
    }
}

/// Every `.eml` file in `dir` (the development file transport), sorted.
pub fn in_dir(dir: &Path) -> Vec<Mail> {
    let mut out: Vec<Mail> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| parse(&std::fs::read(e.path()).expect("mail file")))
        .collect();
    out.sort();
    out
}
