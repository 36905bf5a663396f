-- In-app notifications, fed by events (docs/events.md). A notification
-- belongs to its user (who reads and marks it whichever organization they
-- are signed in to) and comes from an organization (the tenant of the event
-- that caused it, which writes it).
create table notifications (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations(id),
  user_id uuid not null references users(id) on delete cascade,
  kind text not null
    check (kind in ('invitation', 'tender_amended', 'tender_deadline', 'bids_received', 'document_available')),
  subject_type text not null,
  subject_id uuid not null,
  details jsonb not null default '{}',
  event_id uuid not null,
  read_at timestamptz,
  created_at timestamptz not null default now(),
  constraint notifications_event_user_key unique (event_id, user_id)
);
create index notifications_user_idx on notifications (user_id, created_at desc, id desc);
call enable_tenancy('notifications');
create policy notifications_own on notifications using (user_id = current_app_user())
  with check (user_id = current_app_user());
