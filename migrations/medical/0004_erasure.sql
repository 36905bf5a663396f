-- Erasure (RGPD art. 17) of a patient whose record the law still keeps:
-- the visible identity is pseudonymized, the real one sealed with the field
-- cipher (no role can read it; a court order can be answered by an operator
-- with the key), and the retention job deletes it with the clinical
-- content when the record's retention ends.
alter table patients
  add column erased_at timestamptz,
  add column erasure_reason text check (length(erasure_reason) <= 500),
  add column sealed_identity_enc bytea,
  add column sealed_identity_key_id text,
  add constraint patients_identity_sealed check ((sealed_identity_enc is null) = (sealed_identity_key_id is null)),
  add constraint patients_erased_closed check (erased_at is null or deleted_at is not null);
