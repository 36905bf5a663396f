-- Who may be booked: the organization's members as identity's membership
-- events describe them (medical never reads identity's schema). Filled by
-- the `medical.practitioners` consumer; `hub practitioners rebuild` refills
-- it from a snapshot identity publishes. `last_seq` is the identity outbox
-- sequence of the last event applied: a late redelivery of an older event
-- never overwrites a newer state.
create table practitioners (
  organization_id uuid not null,
  user_id uuid not null,
  primary key (organization_id, user_id),
  display_name text,
  roles text[] not null default '{}',
  active boolean not null,
  last_seq bigint not null,
  updated_at timestamptz not null default now()
);

call enable_tenancy('practitioners');
