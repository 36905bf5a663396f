-- Public procurement: tenders (with lots and amendments), supplier profiles
-- and their compliance documents, sealed bids, awards, contracts, and the
-- OCDS releases published for them. Runs as the schema owner with
-- search_path `procurement`, after platform provisioning installed the
-- tenancy SQL (current_org(), has_app_role(), has_vertical(), audit_log,
-- enable_tenancy()).
--
-- Procurement crosses organizations: a buyer's tender is read by every
-- organization of the public vertical once published, and a supplier's bid
-- names the buyer's tender. Each table still belongs to one organization
-- (`organization_id`, with the standard tenant policy); what other
-- organizations may read is added by named read policies below, each of
-- which needs a scope (`has_vertical` is false with no tenant set). The
-- deadline is judged by the database clock (`now()`), for RLS and for the
-- mutations alike.

-- Functions that read tables carry the schema's search path (`from
-- current`), so they work from any session; pg_temp last, as security
-- definer functions need.
select set_config('search_path', current_schema() || ', pg_temp', true);

create function valid_cpv(codes text[]) returns boolean language sql immutable as $$
  select coalesce(bool_and(c ~ '^[0-9]{8}(-[0-9])?$'), true) from unnest(codes) c
$$;

create table tenders (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  constraint tenders_org_id_key unique (organization_id, id),
  reference text not null check (reference ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$'),
  constraint tenders_org_reference_key unique (organization_id, reference),
  title text not null check (length(btrim(title)) between 1 and 200),
  description text not null default '' check (length(description) <= 5000),
  procurement_method text not null check (procurement_method in ('open', 'selective', 'limited', 'direct')),
  main_category text not null check (main_category in ('goods', 'works', 'services')),
  cpv_codes text[] not null check (cardinality(cpv_codes) between 1 and 20 and valid_cpv(cpv_codes)),
  estimated_amount bigint not null check (estimated_amount >= 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  enquiry_deadline timestamptz,
  submission_deadline timestamptz not null,
  constraint tenders_enquiry_before_submission check (enquiry_deadline is null or enquiry_deadline <= submission_deadline),
  status text not null default 'draft'
    check (status in ('draft', 'published', 'closed', 'awarded', 'unsuccessful', 'cancelled')),
  cancellation_reason text check (cancellation_reason is null or length(btrim(cancellation_reason)) between 1 and 1000),
  published_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((status = 'cancelled') = (cancellation_reason is not null)),
  check (status = 'draft' or status = 'cancelled' or published_at is not null)
);
create index tenders_status_deadline_idx on tenders (status, submission_deadline, id);
create index tenders_org_created_idx on tenders (organization_id, created_at, id);
create index tenders_cpv_idx on tenders using gin (cpv_codes);

create table lots (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  constraint lots_org_id_key unique (organization_id, id),
  tender_id uuid not null,
  foreign key (organization_id, tender_id) references tenders (organization_id, id) on delete cascade,
  constraint lots_tender_id_key unique (tender_id, id),
  constraint lots_org_tender_id_key unique (organization_id, tender_id, id),
  number int not null check (number between 1 and 100),
  constraint lots_tender_number_key unique (tender_id, number),
  title text not null check (length(btrim(title)) between 1 and 200),
  estimated_amount bigint not null check (estimated_amount >= 0)
);

create table amendments (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  tender_id uuid not null,
  foreign key (organization_id, tender_id) references tenders (organization_id, id),
  rationale text not null check (length(btrim(rationale)) between 1 and 1000),
  -- {field: {"from": old, "to": new}} for each field the amendment changed.
  changes jsonb not null,
  amended_at timestamptz not null default now()
);
create index amendments_tender_idx on amendments (tender_id, amended_at);

-- A buyer's identity as OCDS publishes it (party name and identifier).
create table buyers (
  organization_id uuid not null primary key,
  legal_name text not null check (length(btrim(legal_name)) between 1 and 200),
  -- An org-id.guide list code, e.g. FR-RCS, FR-SIRET, GB-COH.
  identifier_scheme text not null check (identifier_scheme ~ '^[A-Z]{2}-[A-Z0-9]{2,10}$'),
  identifier_id text not null check (length(btrim(identifier_id)) between 1 and 50),
  created_at timestamptz not null default now()
);

create table suppliers (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  constraint suppliers_org_key unique (organization_id),
  constraint suppliers_org_id_key unique (organization_id, id),
  -- The name the supplier contracts under (OCDS party name).
  legal_name text not null check (length(btrim(legal_name)) between 1 and 200),
  registration_number text not null check (length(btrim(registration_number)) between 1 and 50),
  certification_level text not null check (certification_level in ('basic', 'qualified', 'certified')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- A supplier's tax id lives apart from its public profile so that the row
-- policy, not only the field guard, decides who reads it.
create table supplier_tax_ids (
  organization_id uuid not null primary key,
  supplier_id uuid not null,
  foreign key (organization_id, supplier_id) references suppliers (organization_id, id),
  tax_id text not null check (length(btrim(tax_id)) between 1 and 50)
);

create table compliance_documents (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  supplier_id uuid not null,
  foreign key (organization_id, supplier_id) references suppliers (organization_id, id),
  kind text not null check (kind in ('tax_clearance', 'social_security', 'insurance', 'quality_certificate', 'other')),
  title text not null check (length(btrim(title)) between 1 and 200),
  expires_on date not null,
  created_at timestamptz not null default now()
);
create index compliance_documents_supplier_idx on compliance_documents (supplier_id, expires_on);

-- Compliant: at least one document and none expired; expiring: one expires
-- within 30 days; by the database's date. Reads the documents the caller
-- may see (the supplier itself when it bids).
create function compliance_status(supplier uuid) returns text language sql stable
  set search_path from current as $$
  select case when count(*) = 0 or bool_or(expires_on < current_date) then 'non_compliant'
              when bool_or(expires_on < current_date + 30) then 'expiring'
              else 'compliant' end
    from compliance_documents where supplier_id = supplier
$$;

-- A bid belongs to its supplier (organization_id) and names the buyer's
-- tender by (buyer_id, tender_id): the buyer is the tender's own, whatever a
-- resolver does.
create table bids (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  constraint bids_org_id_key unique (organization_id, id),
  buyer_id uuid not null,
  tender_id uuid not null,
  constraint bids_tender_fkey foreign key (buyer_id, tender_id) references tenders (organization_id, id),
  lot_id uuid,
  constraint bids_lot_fkey foreign key (tender_id, lot_id) references lots (tender_id, id),
  amount bigint not null check (amount > 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  technical_summary text not null default '' check (length(technical_summary) <= 5000),
  status text not null default 'draft' check (status in ('draft', 'submitted', 'withdrawn', 'accepted', 'rejected')),
  submitted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (status in ('draft') or submitted_at is not null)
);
create unique index bids_one_active_key on bids (organization_id, tender_id, lot_id) nulls not distinct
  where status in ('draft', 'submitted');
create index bids_tender_idx on bids (tender_id, lot_id);

create table awards (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  constraint awards_org_id_key unique (organization_id, id),
  tender_id uuid not null,
  foreign key (organization_id, tender_id) references tenders (organization_id, id),
  lot_id uuid,
  foreign key (organization_id, tender_id, lot_id) references lots (organization_id, tender_id, id),
  constraint awards_one_per_lot_key unique nulls not distinct (tender_id, lot_id),
  supplier_id uuid not null,
  bid_id uuid not null,
  constraint awards_bid_fkey foreign key (supplier_id, bid_id) references bids (organization_id, id),
  amount bigint not null check (amount > 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  awarded_at timestamptz not null default now()
);
create index awards_tender_idx on awards (tender_id);

create table contracts (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  constraint contracts_org_id_key unique (organization_id, id),
  tender_id uuid not null,
  foreign key (organization_id, tender_id) references tenders (organization_id, id),
  award_id uuid not null unique,
  foreign key (organization_id, award_id) references awards (organization_id, id),
  supplier_id uuid not null,
  amount bigint not null check (amount > 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  period_start date not null,
  period_end date not null,
  constraint contracts_period_order check (period_end >= period_start),
  status text not null default 'pending' check (status in ('pending', 'active', 'terminated', 'completed')),
  signed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (status = 'pending' or signed_at is not null)
);
create index contracts_org_created_idx on contracts (organization_id, created_at, id);
create index contracts_supplier_idx on contracts (supplier_id, created_at, id);

-- OCDS releases, written in the transaction of the lifecycle step they
-- describe, immutable, and public by construction: their body holds only
-- what OCDS publishes (no bid before the deadline, no tax id).
-- The ocid and release id are not stored: they are the configured prefix,
-- the tender id and `seq`, put on when served.
create table releases (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  tender_id uuid not null,
  foreign key (organization_id, tender_id) references tenders (organization_id, id),
  seq int not null check (seq >= 1),
  constraint releases_tender_seq_key unique (tender_id, seq),
  tags text[] not null check (cardinality(tags) >= 1),
  released_at timestamptz not null default now(),
  body jsonb not null
);
create index releases_org_date_idx on releases (organization_id, released_at, id);
create index releases_date_idx on releases (released_at, id);

call enable_tenancy('tenders');
call enable_tenancy('lots');
call enable_tenancy('amendments');
call enable_tenancy('buyers');
call enable_tenancy('suppliers');
call enable_tenancy('supplier_tax_ids');
call enable_tenancy('compliance_documents');
call enable_tenancy('bids');
call enable_tenancy('awards');
call enable_tenancy('contracts');
call enable_tenancy('releases');

-- Published tenders (and their lots and amendments): every organization of
-- the public vertical. Drafts: the buyer only (tenant policy).
create policy tenders_published on tenders for select
  using (status <> 'draft' and has_vertical('public'));
create policy lots_of_visible_tenders on lots for select
  using (exists (select 1 from tenders t where t.organization_id = lots.organization_id and t.id = lots.tender_id));
create policy amendments_of_visible_tenders on amendments for select
  using (exists (select 1 from tenders t where t.organization_id = amendments.organization_id and t.id = amendments.tender_id));

-- Supplier profiles (registration number, certification level): the public
-- vertical. Tax ids and compliance documents: the supplier (tenant policy)
-- and buyers' procurement officers.
create policy buyers_directory on buyers for select using (has_vertical('public'));
create policy suppliers_directory on suppliers for select using (has_vertical('public'));
create policy supplier_tax_ids_to_buyers on supplier_tax_ids for select
  using (has_vertical('public') and has_app_role('procurement_officer'));
create policy compliance_documents_to_buyers on compliance_documents for select
  using (has_vertical('public') and has_app_role('procurement_officer'));

-- Sealed bids: the supplier always (tenant policy); the buyer's procurement
-- officers once the tender's deadline has passed, never a draft; no one else.
create function tender_opened(buyer uuid, tender uuid) returns boolean language sql stable
  set search_path from current as $$
  select exists (select 1 from tenders t where t.organization_id = buyer and t.id = tender and t.submission_deadline <= now())
$$;
create policy bids_opened_to_buyer on bids for select
  using (buyer_id = current_org() and has_app_role('procurement_officer') and status <> 'draft'
         and tender_opened(buyer_id, tender_id));
-- Awarding accepts and rejects the bids of the buyer's opened tender.
create policy bids_decided_by_buyer on bids for update
  using (buyer_id = current_org() and has_app_role('procurement_officer') and status <> 'draft'
         and tender_opened(buyer_id, tender_id))
  with check (buyer_id = current_org() and status in ('accepted', 'rejected'));

-- Awards and contracts are public-interest data (OCDS publishes them): the
-- public vertical reads them; only the buyer writes (tenant policy).
create policy awards_published on awards for select using (has_vertical('public'));
create policy contracts_published on contracts for select using (has_vertical('public'));

-- Releases are public: readable by any scope of the public vertical (the
-- OCDS endpoints read them with such a scope and no organization of their own).
create policy releases_published on releases for select using (has_vertical('public'));

-- How many bids a tender has is not sealed (the amounts are): counted by
-- the schema owner for tenders the caller can see. The owner-only policy
-- lets this function, and nothing the service runs, count every bid.
create policy bids_counted_by_owner on bids for select to current_user using (true);
-- plpgsql: its plan is cached per connection (a security definer SQL
-- function is planned again on every call).
create function bid_counts(tender_ids uuid[]) returns table (tender_id uuid, bids bigint)
  language plpgsql stable security definer set search_path from current as $$
begin
  return query
    select b.tender_id, count(*) from bids b
     where b.tender_id = any(tender_ids) and b.status in ('submitted', 'accepted', 'rejected')
       and exists (select 1 from tenders t where t.id = b.tender_id)
     group by b.tender_id;
end $$;
