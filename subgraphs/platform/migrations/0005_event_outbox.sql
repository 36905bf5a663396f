-- Domain events, written in the changing transaction (platform::events) and
-- moved to Redis Streams by the service's relay. The service role inserts
-- for its tenant; only the schema owner reads every organization's rows,
-- through the relay functions below (owner-only policy).
create table if not exists event_outbox (
  seq bigserial primary key,
  id uuid not null unique default gen_random_uuid(),
  organization_id uuid not null,
  family text not null,
  type text not null,
  version int not null,
  entity_id uuid,
  payload jsonb not null,
  request_id text,
  occurred_at timestamptz not null default now(),
  attempts int not null default 0,
  last_error text,
  published_at timestamptz,
  stream_id text
);
create index if not exists event_outbox_pending_idx on event_outbox (seq) where published_at is null;
-- When the event was written (after the change's row locks), not when its
-- transaction began: what consumers see as `occurred_at`.
alter table event_outbox alter column occurred_at set default clock_timestamp();
call enable_tenancy('event_outbox');
drop policy if exists event_outbox_relayed_by_owner on event_outbox;
create policy event_outbox_relayed_by_owner on event_outbox for all to current_user using (true);
call grant_service('grant select, insert on event_outbox to %I');
call grant_service('revoke update, delete, truncate on event_outbox from %I');
call grant_service('grant usage on sequence event_outbox_seq_seq to %I');

-- Wakes the schema's relay as soon as events commit (a notification is
-- delivered at commit, once per transaction); the relay still polls now and
-- then, so a lost notification only delays.
create or replace function event_outbox_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('event_outbox.' || tg_table_schema, '');
  return null;
end $$;
drop trigger if exists event_outbox_notify on event_outbox;
create trigger event_outbox_notify after insert on event_outbox
  for each statement execute function event_outbox_notify();

-- The unpublished events in order, to one relay at a time per schema (a
-- transaction-scoped advisory lock): a second relay gets nothing, so events
-- leave in the order they were written.
create or replace function outbox_claim(max_rows int) returns setof event_outbox
  language plpgsql volatile security definer set search_path from current as $$
begin
  if not pg_try_advisory_xact_lock(hashtext(current_schema() || '.event_outbox')) then
    return;
  end if;
  return query select * from event_outbox where published_at is null order by seq limit max_rows;
end $$;
create or replace function outbox_published(ids uuid[], stream_ids text[]) returns void
  language plpgsql volatile security definer set search_path from current as $$
begin
  update event_outbox o set published_at = now(), stream_id = s.sid
    from unnest(ids, stream_ids) as s(id, sid) where o.id = s.id;
end $$;
create or replace function outbox_failed(ids uuid[], error text) returns void
  language plpgsql volatile security definer set search_path from current as $$
begin
  update event_outbox set attempts = attempts + 1, last_error = error where id = any(ids);
end $$;
