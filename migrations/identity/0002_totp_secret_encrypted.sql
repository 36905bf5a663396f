-- TOTP seeds are encrypted at rest (AES-256-GCM, key id beside the value),
-- like the medical subgraph's sensitive fields. Pending and active
-- enrollments made before this change cannot be converted in SQL; they are
-- reset and the user enrolls again.
alter table users add column totp_secret_enc bytea, add column totp_key_id text;
update users set totp_enabled = false, totp_last_step = null where totp_secret is not null;
alter table users drop column totp_secret;
alter table users add constraint users_totp_sealed check ((totp_secret_enc is null) = (totp_key_id is null));
alter table users add constraint users_totp_enabled_needs_secret check (not totp_enabled or totp_secret_enc is not null);
