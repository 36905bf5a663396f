-- Identity: organizations (tenants), users, memberships, sessions, tokens,
-- partner clients, audit. Runs as the schema's owner role with search_path
-- set to `identity`. Every tenant-owned table has RLS enabled and FORCED, so
-- even the owner is filtered; with no tenant set, policies match no row.

create function current_org() returns uuid language sql stable as $$
  select nullif(current_setting('app.organization_id', true), '')::uuid
$$;

create function current_app_user() returns uuid language sql stable as $$
  select nullif(current_setting('app.user_id', true), '')::uuid
$$;

create function has_app_role(role text) returns boolean language sql stable as $$
  select role = any(string_to_array(coalesce(current_setting('app.roles', true), ''), ','))
$$;

create table organizations (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  name text not null check (length(btrim(name)) between 1 and 200),
  verticals text[] not null default '{}' check (verticals <@ array['medical', 'public']),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table organizations enable row level security;
alter table organizations force row level security;
-- Name and slug are public to authenticated callers (login resolves the slug);
-- the API's guards keep the other fields to members.
create policy organizations_read on organizations for select using (true);
create policy organizations_create on organizations for insert with check (has_app_role('platform_admin'));
create policy organizations_update on organizations for update
  using (id = current_org() and has_app_role('org_admin'));

create table users (
  id uuid primary key default gen_random_uuid(),
  email text not null,
  display_name text not null check (length(btrim(display_name)) between 1 and 200),
  locale text not null default 'en' check (locale in ('en', 'fr', 'de')),
  status text not null default 'active' check (status in ('active', 'disabled')),
  password_hash text not null,
  totp_secret text,
  totp_enabled boolean not null default false,
  totp_last_step bigint,
  failed_login_count integer not null default 0,
  failed_login_window_start timestamptz,
  locked_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint users_email_key unique (email),
  constraint users_email_lowercase check (email = lower(email) and email like '%_@_%')
);

create table memberships (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations(id),
  user_id uuid not null references users(id),
  roles text[] not null check (roles <@ array['platform_admin','org_admin','auditor','practitioner','nurse',
    'secretary','billing_clerk','procurement_officer','procurement_viewer','supplier_admin','supplier_user']),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint memberships_org_user_key unique (organization_id, user_id)
);
create index memberships_user_idx on memberships(user_id);

create table invitations (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations(id),
  email text not null check (email = lower(email)),
  roles text[] not null,
  token_hash bytea not null unique,
  invited_by uuid references users(id),
  expires_at timestamptz not null,
  accepted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index invitations_pending_email_key on invitations(organization_id, email) where accepted_at is null;

-- A user row is visible to itself, to organizations it is a member of, and to
-- an organization that has a pending invitation for its email (to link it).
alter table users enable row level security;
alter table users force row level security;
create policy users_visible on users for select using (
  id = current_app_user()
  or exists (select 1 from memberships m where m.user_id = users.id and m.organization_id = current_org())
  or exists (select 1 from invitations i where i.email = users.email
               and i.organization_id = current_org() and i.accepted_at is null)
);
create policy users_create on users for insert with check (current_org() is not null);
create policy users_update on users for update using (
  id = current_app_user()
  or exists (select 1 from memberships m where m.user_id = users.id and m.organization_id = current_org())
);

create table sessions (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations(id),
  user_id uuid not null references users(id),
  amr text[] not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  revoked_reason text
);
create index sessions_user_idx on sessions(organization_id, user_id);

-- One row per refresh token; the family is the session. A token is used once.
create table refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations(id),
  session_id uuid not null references sessions(id),
  token_hash bytea not null unique,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz
);
create index refresh_tokens_session_idx on refresh_tokens(session_id);

create table password_resets (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations(id),
  user_id uuid not null references users(id),
  token_hash bytea not null unique,
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now()
);

create table partner_clients (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations(id),
  name text not null check (length(btrim(name)) between 1 and 200),
  client_id text not null unique,
  secret_hash text not null,
  scopes text[] not null default '{}',
  created_by uuid references users(id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  revoked_at timestamptz,
  constraint partner_clients_org_name_key unique (organization_id, name)
);

-- Messages to deliver (emails…), written in the same transaction as the change.
create table outbox (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations(id),
  topic text not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  published_at timestamptz
);

create table audit_log (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations(id),
  actor_user_id uuid,
  actor_client_id uuid,
  action text not null,
  entity_type text not null,
  entity_id uuid not null,
  request_id text,
  details jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index audit_log_org_created_idx on audit_log(organization_id, created_at desc);

-- Tenant-owned tables: one policy each, on the tenant setting.
do $$
declare t text;
begin
  foreach t in array array['memberships','invitations','sessions','refresh_tokens','password_resets',
                           'partner_clients','outbox','audit_log']
  loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format('create policy %I on %I using (organization_id = current_org()) with check (organization_id = current_org())',
                   t || '_tenant', t);
  end loop;
end $$;

-- The audit trail is append-only for the service.
create policy audit_log_no_update on audit_log as restrictive for update using (false);
create policy audit_log_no_delete on audit_log as restrictive for delete using (false);
