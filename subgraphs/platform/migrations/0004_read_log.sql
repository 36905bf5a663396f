-- Reads of health data: one row per record a request opened, never
-- sampled. They are not chain links when written (a chain link waits for
-- its organization's head, and reads are many and concurrent): the sealer
-- (`read_log_seal`, run by every service every few seconds) writes one
-- `reads.sealed` link per organization over the rows written since, with the
-- digest of their canonical text, and marks them with that link's id. A
-- sealed read edited or deleted no longer matches its seal's digest.
create table if not exists read_log (
  seq bigserial primary key,
  organization_id uuid not null,
  actor_user_id uuid,
  actor_client_id uuid,
  entity_type text not null,
  entity_id uuid not null,
  action text not null,
  request_id text,
  details jsonb not null default '{}',
  created_at timestamptz not null default clock_timestamp(),
  sealed_by uuid
);
create index if not exists read_log_unsealed_idx on read_log (organization_id, seq) where sealed_by is null;
create index if not exists read_log_sealed_idx on read_log (sealed_by);
create index if not exists read_log_entity_idx on read_log (organization_id, entity_id, seq);
call enable_tenancy('read_log');
drop policy if exists read_log_sealed_by_owner on read_log;
create policy read_log_sealed_by_owner on read_log for all to current_user using (true);
call grant_service('grant select, insert on read_log to %I');
call grant_service('revoke update, delete, truncate on read_log from %I');
call grant_service('grant usage on sequence read_log_seq_seq to %I');
create or replace function read_log_canonical(r read_log) returns text language sql immutable as $$
  select jsonb_build_object(
    'seq', r.seq,
    'organization_id', r.organization_id,
    'actor_user_id', r.actor_user_id,
    'actor_client_id', r.actor_client_id,
    'entity_type', r.entity_type,
    'entity_id', r.entity_id,
    'action', r.action,
    'request_id', r.request_id,
    'details', r.details,
    'created_at', to_char(r.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text
$$;
-- One sealer at a time per schema; each organization's unsealed rows (at
-- most `max_rows` of them per call) become one link of its chain, written
-- as that organization (the tenant policy of `audit_log` holds for it too).
create or replace function read_log_seal(max_rows int) returns int
  language plpgsql volatile security definer set search_path from current as $$
declare
  org uuid;
  seqs bigint[];
  texts text[];
  seal uuid;
  sealed int := 0;
begin
  if not pg_try_advisory_xact_lock(hashtext(current_schema() || '.read_log')) then
    return 0;
  end if;
  -- The organizations with unsealed reads, by a skip scan of the partial
  -- index (one probe per organization), never a pass over the log.
  for org in
    with recursive orgs(o) as (
      (select r.organization_id from read_log r where r.sealed_by is null order by r.organization_id limit 1)
      union all
      select (select r.organization_id from read_log r
               where r.sealed_by is null and r.organization_id > orgs.o order by r.organization_id limit 1)
        from orgs where orgs.o is not null
    ) select o from orgs where o is not null
  loop
    select array_agg(s.seq order by s.seq), array_agg(s.canonical order by s.seq) into seqs, texts
      from (select r.seq, read_log_canonical(r) as canonical from read_log r
             where r.organization_id = org and r.sealed_by is null order by r.seq limit max_rows) s;
    seal := gen_random_uuid();
    perform set_config('app.organization_id', org::text, true);
    insert into audit_log (id, organization_id, action, entity_type, entity_id, details)
    values (seal, org, 'reads.sealed', 'ReadLog', seal, jsonb_build_object(
      'count', cardinality(seqs),
      'first_seq', seqs[1],
      'last_seq', seqs[cardinality(seqs)],
      'digest', encode(sha256(convert_to(array_to_string(texts, E'\n'), 'UTF8')), 'hex')));
    update read_log set sealed_by = seal where organization_id = org and seq = any(seqs);
    sealed := sealed + cardinality(seqs);
  end loop;
  perform set_config('app.organization_id', '', true);
  return sealed;
end $$;

-- What the sealer has not sealed yet, for /metrics: how many reads, and how
-- old the oldest is (0 when none) — growing, it means no service seals.
create or replace function read_log_unsealed(out reads bigint, out oldest_age_seconds double precision)
  language sql stable security definer set search_path from current as $$
  select count(*), coalesce(extract(epoch from clock_timestamp() - min(created_at)), 0)::double precision
    from read_log where sealed_by is null
$$;
