-- Content: documents attached to entities other subgraphs own (patients,
-- tenders, contracts, suppliers) and their immutable versions, whose bytes
-- live in object storage under `storage_key`. Runs as the schema owner with
-- search_path `content`, after platform provisioning installed the tenancy
-- SQL (current_org(), has_app_role(), has_vertical(), audit_log,
-- enable_tenancy()).
--
-- Who reads a document depends on its classification, stated twice: by the
-- guards of the service and by the restrictive policy below (the tenant
-- policy alone would show a secretary a clinical report). Content cannot
-- read procurement's tables, so what the router vouched for in the request
-- (a tender is published and belongs to its buyer; a supplier profile
-- belongs to its organization) arrives as the transaction setting
-- `app.vouched_owners` (`organization:owner` pairs), set only by the
-- entity resolvers that received those fields from the router.

select set_config('search_path', current_schema() || ', pg_temp', true);

create table documents (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  constraint documents_org_id_key unique (organization_id, id),
  owner_type text not null check (owner_type in ('Patient', 'Tender', 'Contract', 'Supplier')),
  owner_id uuid not null,
  title text not null check (length(btrim(title)) between 1 and 200),
  classification text not null
    check (classification in ('clinical', 'administrative', 'procurement_public', 'procurement_internal', 'compliance')),
  -- Which classifications fit which owner: medical records on patients,
  -- procurement files on tenders and contracts, certificates on suppliers.
  constraint documents_classification_fits_owner check (
    (owner_type = 'Patient' and classification in ('clinical', 'administrative'))
    or (owner_type = 'Tender' and classification in ('procurement_public', 'procurement_internal'))
    or (owner_type = 'Contract' and classification = 'procurement_internal')
    or (owner_type = 'Supplier' and classification = 'compliance')),
  -- The number of the version readers get; null until one is available.
  current_version int,
  retention_until date,
  created_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);
create index documents_owner_idx on documents (owner_id, created_at, id) where deleted_at is null;

create table document_versions (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  document_id uuid not null,
  foreign key (organization_id, document_id) references documents (organization_id, id),
  number int not null check (number >= 1),
  constraint document_versions_number_key unique (document_id, number),
  -- pending: URL issued; uploading: bytes arriving; available: stored,
  -- checked and scanned; rejected: refused (size, type, scanner).
  status text not null default 'pending' check (status in ('pending', 'uploading', 'available', 'rejected')),
  declared_content_type text not null,
  max_bytes bigint not null check (max_bytes > 0),
  upload_expires_at timestamptz not null,
  upload_started_at timestamptz,
  rejection_reason text,
  -- What the upload turned out to be (set when available).
  byte_size bigint check (byte_size >= 0),
  sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
  content_type text,
  -- A restored version shares the bytes of the version it restores.
  storage_key text not null,
  restored_from int,
  uploaded_by uuid,
  created_at timestamptz not null default now(),
  available_at timestamptz,
  check ((status = 'available') = (available_at is not null and sha256 is not null
                                     and byte_size is not null and content_type is not null)),
  check ((status = 'rejected') = (rejection_reason is not null))
);
create index document_versions_sweep_idx on document_versions (upload_expires_at) where status in ('pending', 'uploading');

-- Versions are immutable once decided: an available or rejected version
-- never changes again, whoever writes (restoring makes a new version).
create function versions_immutable() returns trigger language plpgsql as $$
begin
  if old.status in ('available', 'rejected') then
    raise exception 'document version % is immutable', old.id using errcode = 'check_violation';
  end if;
  return new;
end $$;
create trigger document_versions_immutable before update on document_versions
  for each row execute function versions_immutable();

-- Whether the router vouched, in this transaction, that `owner` is a
-- published tender of `organization` or a supplier profile of it.
create function vouched(organization uuid, owner uuid) returns boolean language sql stable as $$
  select (organization::text || ':' || owner::text)
         = any (string_to_array(nullif(current_setting('app.vouched_owners', true), ''), ','))
$$;

call enable_tenancy('documents');
call enable_tenancy('document_versions');

-- Other organizations of the public vertical read the public documents of
-- a published tender and suppliers' compliance certificates (the role rule
-- below leaves those to procurement officers), for owners the router vouched for.
create policy documents_vouched on documents for select
  using (classification in ('procurement_public', 'compliance') and has_vertical('public')
         and vouched(organization_id, owner_id));

-- The role rule, for every row a caller reads, own organization included.
-- It binds the service's login role (the owner's name without `_owner`,
-- the platform's naming): the schema owner runs only the sweep functions below.
do $do$ begin
  execute format($p$create policy documents_by_classification on documents as restrictive for select to %I using (
    case classification
      when 'clinical' then has_vertical('medical') and (has_app_role('practitioner') or has_app_role('nurse'))
      when 'administrative' then has_vertical('medical') and (has_app_role('practitioner') or has_app_role('nurse')
                                   or has_app_role('secretary') or has_app_role('billing_clerk'))
      when 'procurement_public' then has_vertical('public')
      when 'procurement_internal' then has_vertical('public') and organization_id = current_org()
                                   and (has_app_role('procurement_officer') or has_app_role('procurement_viewer'))
      when 'compliance' then has_vertical('public')
                                   and ((organization_id = current_org()
                                         and (has_app_role('supplier_admin') or has_app_role('supplier_user')))
                                        or has_app_role('procurement_officer'))
      else false
    end)$p$, regexp_replace(current_user, '_owner$', ''));
  execute format($p$create policy versions_follow_documents on document_versions as restrictive for select to %I
    using (exists (select 1 from documents d where d.organization_id = document_versions.organization_id
                                                and d.id = document_versions.document_id))$p$,
    regexp_replace(current_user, '_owner$', ''));
end $do$;

-- A version is read by whoever reads its document.
create policy versions_of_visible_documents on document_versions for select
  using (exists (select 1 from documents d where d.organization_id = document_versions.organization_id
                                              and d.id = document_versions.document_id));

-- The cleanup sweep: uploads whose URL expired without an available
-- version, in every organization. Only the schema owner reads them all
-- (the owner-only policy), through these two functions.
create policy versions_swept_by_owner on document_versions for all to current_user using (true);

create function expired_uploads(grace interval, max_rows int)
  returns table (organization_id uuid, id uuid, storage_key text)
  language plpgsql stable security definer set search_path from current as $$
begin
  return query
    select v.organization_id, v.id, v.storage_key from document_versions v
     where v.status in ('pending', 'uploading') and v.upload_expires_at < now() - grace
     order by v.upload_expires_at limit max_rows;
end $$;

-- Forgets an expired upload once its bytes are gone (never an available one).
create function forget_upload(version uuid, grace interval) returns boolean
  language plpgsql volatile security definer set search_path from current as $$
begin
  delete from document_versions v
   where v.id = version and v.status in ('pending', 'uploading') and v.upload_expires_at < now() - grace;
  return found;
end $$;
