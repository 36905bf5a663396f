-- The platform's tables and functions, in every subgraph's schema (applied
-- by `platform::migrate` before the subgraph's own migrations, as the schema
-- owner with the schema on the search path). Never edit an applied file: add
-- the next version.

create or replace function current_org() returns uuid language sql stable as $$
  select nullif(current_setting('app.organization_id', true), '')::uuid
$$;
create or replace function current_app_user() returns uuid language sql stable as $$
  select nullif(current_setting('app.user_id', true), '')::uuid
$$;
create or replace function has_app_role(role text) returns boolean language sql stable as $$
  select role = any(string_to_array(coalesce(current_setting('app.roles', true), ''), ','))
$$;
-- The caller's organization has this vertical: data shared by the organizations
-- of a vertical (published tenders) is readable with it, never without a scope.
create or replace function has_vertical(vertical text) returns boolean language sql stable as $$
  select coalesce(current_setting('app.organization_id', true), '') <> ''
     and vertical = any(string_to_array(coalesce(current_setting('app.verticals', true), ''), ','))
$$;

-- RLS enabled and forced (the owner is filtered too), one policy on the
-- tenant setting: with no tenant set, no row is visible or writable.
create or replace procedure enable_tenancy(tbl regclass) language plpgsql as $$
begin
  execute format('alter table %s enable row level security', tbl);
  execute format('alter table %s force row level security', tbl);
  execute format('drop policy if exists tenant_isolation on %s', tbl);
  execute format('create policy tenant_isolation on %s using (organization_id = current_org())
                  with check (organization_id = current_org())', tbl);
end $$;

-- Grants to the service's login role, whose name the runner passes in
-- `hub.service_role` (the same files serve every subgraph's schema).
create or replace procedure grant_service(statement text) language plpgsql as $$
begin
  execute format(statement, current_setting('hub.service_role'));
end $$;
