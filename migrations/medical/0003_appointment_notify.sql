-- The address a booking's confirmation and cancellation go to (given at
-- booking; the patient's, or whoever booked for them), sealed like the
-- other contact details, and the language to write in.
alter table appointments
  add column notify_email_enc bytea,
  add column notify_email_key_id text,
  add column notify_locale text check (notify_locale in ('en', 'fr', 'de')),
  add constraint appointments_notify_sealed check ((notify_email_enc is null) = (notify_email_key_id is null));
