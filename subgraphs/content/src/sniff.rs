//! What a file is, from its first bytes rather than from what the client
//! says: the allow-list of content types and the check that the bytes are
//! what the upload URL was issued for.

/// The content types Hub stores, as announced by clients.
pub const ALLOWED: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/tiff",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "text/plain",
    "text/csv",
];

/// How many leading bytes the sniffer looks at.
pub const SNIFF_BYTES: usize = 8192;

/// Whether a client may announce this content type.
pub fn allowed(content_type: &str) -> bool {
    ALLOWED.contains(&content_type)
}

/// The content type the bytes show, if it is one of [`ALLOWED`]. Text has
/// no signature: valid UTF-8 without control bytes other than whitespace
/// counts as text (the last character may be cut at the sniff boundary).
pub fn sniff(head: &[u8], complete: bool) -> Option<&'static str> {
    if let Some(kind) = infer::get(head) {
        return ALLOWED.iter().copied().find(|a| *a == kind.mime_type());
    }
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if !complete && e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return None,
    };
    let plain = text.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'));
    (!head.is_empty() && plain).then_some("text/plain")
}

/// Whether bytes sniffed as `sniffed` may be stored as `declared` (a CSV is text).
pub fn matches(declared: &str, sniffed: &str) -> bool {
    declared == sniffed || (declared == "text/csv" && sniffed == "text/plain")
}

/// A file name extension for a content type (downloads' `Content-Disposition`).
pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/tiff" => "tiff",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.oasis.opendocument.text" => "odt",
        "application/vnd.oasis.opendocument.spreadsheet" => "ods",
        "text/csv" => "csv",
        "application/zip" => "zip",
        _ => "txt",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_decide_not_names() {
        assert_eq!(
            sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", false),
            Some("application/pdf")
        );
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", false), Some("image/png"));
        assert_eq!(
            sniff("Compte rendu: tension 12/8, répétée.\n".as_bytes(), true),
            Some("text/plain")
        );
        // A Windows executable announced as a PDF sniffs as nothing allowed.
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0", false), None);
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\0", false), None);
        assert_eq!(sniff(b"", true), None);
    }

    #[test]
    fn text_cut_inside_a_character_is_still_text() {
        let s = "é".repeat(10);
        assert_eq!(sniff(&s.as_bytes()[..5], false), Some("text/plain"));
        assert_eq!(sniff(&s.as_bytes()[..5], true), None);
    }

    #[test]
    fn csv_is_text() {
        assert!(matches("text/csv", "text/plain"));
        assert!(!matches("application/pdf", "text/plain"));
    }
}
