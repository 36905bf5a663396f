-- Identity: organizations (tenants), users, memberships, sessions, tokens,
-- partner clients. Runs as the schema's owner role with search_path set to
-- `identity`, after platform provisioning installed current_org(),
-- current_app_user(), has_app_role(), audit_log and enable_tenancy().
-- Every tenant-owned table has RLS enabled and FORCED, so even the owner is
-- filtered; with no tenant set, policies match no row. Children reference
-- their parent by (organization_id, id), so no row can point into another
-- tenant whatever a resolver does.

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
-- The one table readable without a tenant: the directory of organizations
-- (id, slug, name, verticals; no secrets). Login resolves the slug before any
-- tenant is known, and every signed-in caller may read an organization's
-- name (suppliers see their buyers). Writing stays restricted.
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
  -- TOTP seed sealed with AES-256-GCM (nonce || ciphertext) and its key id.
  totp_secret_enc bytea,
  totp_key_id text,
  totp_enabled boolean not null default false,
  totp_last_step bigint,
  failed_login_count integer not null default 0,
  failed_login_window_start timestamptz,
  locked_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint users_email_key unique (email),
  constraint users_email_lowercase check (email = lower(email) and email like '%_@_%'),
  constraint users_totp_sealed check ((totp_secret_enc is null) = (totp_key_id is null)),
  constraint users_totp_enabled_needs_secret check (not totp_enabled or totp_secret_enc is not null)
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
  revoked_reason text,
  constraint sessions_org_id_key unique (organization_id, id)
);
create index sessions_user_idx on sessions(organization_id, user_id);

-- One row per refresh token; the family is the session. A token is used once.
create table refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations(id),
  session_id uuid not null,
  token_hash bytea not null unique,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  constraint refresh_tokens_session_fkey foreign key (organization_id, session_id)
    references sessions (organization_id, id)
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

-- Tenant-owned tables: RLS forced, one policy on the tenant setting.
call enable_tenancy('memberships');
call enable_tenancy('invitations');
call enable_tenancy('sessions');
call enable_tenancy('refresh_tokens');
call enable_tenancy('password_resets');
call enable_tenancy('partner_clients');
call enable_tenancy('outbox');
