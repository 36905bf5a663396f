-- Tamper evidence: every row carries the hash of the previous row of its
-- organization (a chain per organization and schema), computed here, in
-- the inserting transaction, over `canonical` (the row as JSON). Writers of
-- one organization serialize on its chain head row; other organizations'
-- heads are other rows, so they never wait for each other.
-- `platform::audit::chain` verifies and exports the chains.
alter table audit_log add column if not exists chain_seq bigint;
alter table audit_log add column if not exists prev_hash bytea;
alter table audit_log add column if not exists row_hash bytea;
alter table audit_log add column if not exists canonical text;
create unique index if not exists audit_log_chain_idx on audit_log (organization_id, chain_seq);
-- A record's history (`history(first, after)`), newest first.
create index if not exists audit_log_entity_idx on audit_log (organization_id, entity_type, entity_id, chain_seq);
create table if not exists audit_chain_heads (
  organization_id uuid primary key,
  seq bigint not null,
  hash bytea not null,
  updated_at timestamptz not null default now()
);
call enable_tenancy('audit_chain_heads');
call grant_service('grant select, insert, update on audit_chain_heads to %I');
call grant_service('revoke delete, truncate on audit_chain_heads from %I');
-- The schema's own head table, whoever inserts (the search path is the schema's).
create or replace function audit_chain() returns trigger language plpgsql set search_path from current as $$
declare
  head audit_chain_heads%rowtype;
begin
  insert into audit_chain_heads (organization_id, seq, hash) values (new.organization_id, 0, ''::bytea)
    on conflict (organization_id) do nothing;
  select * into head from audit_chain_heads where organization_id = new.organization_id for update;
  new.chain_seq := head.seq + 1;
  new.prev_hash := head.hash;
  new.canonical := jsonb_build_object(
    'v', 1,
    'organization_id', new.organization_id,
    'seq', new.chain_seq,
    'id', new.id,
    'actor_user_id', new.actor_user_id,
    'actor_client_id', new.actor_client_id,
    'action', new.action,
    'entity_type', new.entity_type,
    'entity_id', new.entity_id,
    'request_id', new.request_id,
    'details', new.details,
    'created_at', to_char(new.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text;
  new.row_hash := sha256(new.prev_hash || convert_to(new.canonical, 'UTF8'));
  update audit_chain_heads set seq = new.chain_seq, hash = new.row_hash, updated_at = now()
    where organization_id = new.organization_id;
  return new;
end $$;
drop trigger if exists audit_chain on audit_log;
create trigger audit_chain before insert on audit_log for each row execute function audit_chain();
