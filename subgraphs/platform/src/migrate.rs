//! Provisioning and migrations of one subgraph's schema. Tables are owned by a
//! NOLOGIN owner role; the service logs in as a role that owns nothing and has
//! no BYPASSRLS, so forced row-level security applies to every query it runs.
//!
//! Provisioning also installs the tenancy SQL every schema shares, once, here:
//! `current_org()`, `current_app_user()`, `has_app_role(text)`, the
//! append-only `audit_log`, and the procedure `enable_tenancy(regclass)` that
//! enables and forces RLS on a table with the standard tenant policy.
//! Subgraph migrations call `enable_tenancy('<table>')`; they never copy it.

use sqlx::{migrate::Migrator, postgres::PgConnectOptions, ConnectOptions, Connection, PgConnection};

use crate::config::DatabaseSettings;

/// Owner role of a subgraph's schema.
pub fn owner_role(settings: &DatabaseSettings) -> String {
    format!("{}_owner", settings.role)
}

/// Creates the database (if missing), the extensions the subgraph needs (as
/// the admin: the owner role may not), both roles and the schema, then runs
/// the subgraph's migrations as the owner role. Idempotent.
pub async fn provision_and_migrate(
    settings: &DatabaseSettings,
    migrator: &Migrator,
    extensions: &[&str],
) -> anyhow::Result<()> {
    let admin = settings.admin_options()?;
    let mut conn = connect_creating_database(&admin).await?;
    let owner = owner_role(settings);
    let login = &settings.role;
    let schema = &settings.schema;
    for name in [owner.as_str(), login.as_str(), schema.as_str()] {
        anyhow::ensure!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "invalid identifier `{name}` in database settings"
        );
    }
    // Roles are cluster-wide: concurrent provisioning (parallel tests) may race,
    // hence the duplicate_object handlers.
    let ddl = format!(
        r#"
do $$ begin
  create role {owner} nologin;
exception when duplicate_object then null; end $$;
do $$ begin
  create role {login} login nosuperuser nobypassrls nocreatedb nocreaterole;
exception when duplicate_object then null; end $$;
alter role {login} nosuperuser nobypassrls;
grant {owner} to current_user;
create schema if not exists {schema} authorization {owner};
grant usage on schema {schema} to {login};
alter default privileges for role {owner} in schema {schema}
  grant select, insert, update, delete on tables to {login};
alter default privileges for role {owner} in schema {schema}
  grant usage, select on sequences to {login};
"#
    );
    run_ignoring_duplicate_grant(&mut conn, &ddl).await?;
    for ext in extensions {
        anyhow::ensure!(
            ext.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "invalid extension `{ext}`"
        );
        run_ignoring_duplicate_grant(&mut conn, &format!("create extension if not exists {ext}")).await?;
    }
    // `pg_temp` last, explicitly: every `security definer ... set search_path
    // from current` below and in the migrations records this path, so a
    // caller's temporary table or function can never stand in for the
    // schema's (unnamed, pg_temp would be searched first).
    sqlx::raw_sql(&format!("set role {owner}; set search_path to {schema}, pg_temp"))
        .execute(&mut conn)
        .await?;
    sqlx::raw_sql(&tenancy_sql(login))
        .execute(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("installing the tenancy functions in schema `{schema}` failed: {e}"))?;
    migrator.run(&mut conn).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMismatch(v) | sqlx::migrate::MigrateError::VersionMissing(v) => {
            anyhow::anyhow!(
                "schema `{schema}` was migrated with a different migration {v} than this checkout has \
                 (migrations were rewritten). For development data run `cargo run -p hub -- reset`, \
                 which drops the subgraph schemas, migrates and seeds again."
            )
        }
        e => anyhow::anyhow!("migrating schema `{schema}` failed: {e}"),
    })?;
    sqlx::raw_sql("reset role").execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// The tenancy SQL of every subgraph schema. Idempotent: provisioning runs it
/// before each migration run, as the schema owner with the schema on the
/// search path.
fn tenancy_sql(login: &str) -> String {
    format!(
        r#"
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

create table if not exists audit_log (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  actor_user_id uuid,
  actor_client_id uuid,
  action text not null,
  entity_type text not null,
  entity_id uuid not null,
  request_id text,
  details jsonb not null default '{{}}',
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
grant select, insert on audit_log to {login};
revoke update, delete, truncate on audit_log from {login};

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
grant select, insert, update on audit_chain_heads to {login};
revoke delete, truncate on audit_chain_heads from {login};
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
  details jsonb not null default '{{}}',
  created_at timestamptz not null default clock_timestamp(),
  sealed_by uuid
);
create index if not exists read_log_unsealed_idx on read_log (organization_id, seq) where sealed_by is null;
create index if not exists read_log_sealed_idx on read_log (sealed_by);
create index if not exists read_log_entity_idx on read_log (organization_id, entity_id, seq);
call enable_tenancy('read_log');
drop policy if exists read_log_sealed_by_owner on read_log;
create policy read_log_sealed_by_owner on read_log for all to current_user using (true);
grant select, insert on read_log to {login};
revoke update, delete, truncate on read_log from {login};
grant usage on sequence read_log_seq_seq to {login};
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
grant select, insert on event_outbox to {login};
revoke update, delete, truncate on event_outbox from {login};
grant usage on sequence event_outbox_seq_seq to {login};

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
-- Events this schema's consumers applied: the idempotency record, written
-- in the consumer's transaction with its effect.
create table if not exists processed_events (
  consumer text not null,
  event_id uuid not null,
  organization_id uuid not null,
  processed_at timestamptz not null default now(),
  primary key (consumer, event_id)
);
call enable_tenancy('processed_events');
grant select, insert on processed_events to {login};

-- One row per mail an event caused: who, which template and language, the
-- outcome. Never the body (it carries links with secrets).
create table if not exists mail_deliveries (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  event_id uuid not null,
  template text not null,
  locale text not null,
  recipient text not null,
  status text not null check (status in ('sent', 'failed', 'bounced')),
  attempts int not null default 1,
  last_error text,
  message_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint mail_deliveries_event_key unique (event_id, template, recipient)
);
call enable_tenancy('mail_deliveries');
grant select, insert, update on mail_deliveries to {login};

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
                   || case when payload ? 'displayName' then jsonb_build_object('displayName', null) else '{{}}'::jsonb end
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
"#
    )
}

async fn run_ignoring_duplicate_grant(conn: &mut PgConnection, ddl: &str) -> anyhow::Result<()> {
    // `create schema if not exists` and `grant` can also race; retry once.
    match sqlx::raw_sql(ddl).execute(&mut *conn).await {
        Ok(_) => Ok(()),
        Err(first) => {
            tracing::debug!(error = %first, "provisioning raced, retrying");
            sqlx::raw_sql(ddl).execute(&mut *conn).await?;
            Ok(())
        }
    }
}

async fn connect_creating_database(admin: &PgConnectOptions) -> anyhow::Result<PgConnection> {
    match admin.connect().await {
        Ok(c) => Ok(c),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
            let db = admin.get_database().unwrap_or("hub").to_string();
            anyhow::ensure!(
                db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "invalid database name `{db}`"
            );
            let mut server = admin.clone().database("postgres").connect().await?;
            if let Err(e) = sqlx::raw_sql(&format!("create database {db}"))
                .execute(&mut server)
                .await
            {
                // Another process may have created it meanwhile.
                tracing::debug!(error = %e, "create database");
            }
            Ok(admin.connect().await?)
        }
        Err(e) => Err(anyhow::anyhow!(
            "cannot connect to PostgreSQL at {}:{} as {}: {e}",
            admin.get_host(),
            admin.get_port(),
            admin.get_username()
        )),
    }
}
