create table if not exists audit_log (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  actor_user_id uuid,
  actor_client_id uuid,
  action text not null,
  entity_type text not null,
  entity_id uuid not null,
  request_id text,
  details jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index if not exists audit_log_org_created_idx on audit_log (organization_id, created_at desc);
call enable_tenancy('audit_log');
-- Append-only, twice: no policy lets a row change or go, and the service
-- role holds no UPDATE/DELETE privilege on it.
drop policy if exists audit_log_no_update on audit_log;
drop policy if exists audit_log_no_delete on audit_log;
create policy audit_log_no_update on audit_log as restrictive for update using (false);
create policy audit_log_no_delete on audit_log as restrictive for delete using (false);
call grant_service('grant select, insert on audit_log to %I');
call grant_service('revoke update, delete, truncate on audit_log from %I');
