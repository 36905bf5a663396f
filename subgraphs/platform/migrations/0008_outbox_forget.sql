-- An erasure's reach into events already published: their payloads lose
-- the subject's e-mail address and name (events are history for the relay,
-- not a record the law keeps). Unpublished events are left to the relay;
-- the erasure's own events carry no personal data.
create or replace function outbox_forget(subject uuid, email text) returns int
  language plpgsql volatile security definer set search_path from current as $$
declare
  n int;
begin
  update event_outbox
     set payload = (payload - 'email')
                   || case when payload ? 'displayName' then jsonb_build_object('displayName', null) else '{}'::jsonb end
   where published_at is not null
     and (entity_id = subject or payload->>'userId' = subject::text
          or (email is not null and lower(payload->>'email') = lower(email)))
     and (payload ? 'email'
          or (jsonb_typeof(payload->'displayName') = 'string' and coalesce(payload->>'erased', '') <> 'true'));
  get diagnostics n = row_count;
  return n;
end $$;

create or replace function outbox_backlog() returns bigint
  language plpgsql stable security definer set search_path from current as $$
begin
  return (select count(*) from event_outbox where published_at is null);
end $$;
