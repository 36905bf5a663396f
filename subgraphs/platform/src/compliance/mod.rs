//! What the law and the auditors ask for: the audit trail (chained, sealed,
//! readable per record), the read log of health data, legal retention and the
//! data subject's rights (export, erasure).

pub mod audit;
pub mod retention;
pub mod rgpd;
