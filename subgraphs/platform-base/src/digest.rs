//! Hex SHA-256 digests: persisted-query ids, stored secret hashes, files'
//! checksums.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of a text: persisted-query ids, stored secret hashes.
pub fn sha256_hex(text: &str) -> String {
    sha256_hex_bytes(text.as_bytes())
}

/// Lowercase hex SHA-256 of bytes (files' checksums and ETags).
pub fn sha256_hex_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of bytes (digests computed while streaming).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
