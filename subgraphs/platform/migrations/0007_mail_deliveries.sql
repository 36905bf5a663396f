-- One row per mail an event caused: who, which template and language, the
-- outcome. Never the body (it carries links with secrets).
create table if not exists mail_deliveries (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  event_id uuid not null,
  template text not null,
  locale text not null,
  recipient text not null,
  status text not null check (status in ('sent', 'failed', 'bounced')),
  attempts int not null default 1,
  last_error text,
  message_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint mail_deliveries_event_key unique (event_id, template, recipient)
);
call enable_tenancy('mail_deliveries');
call grant_service('grant select, insert, update on mail_deliveries to %I');
