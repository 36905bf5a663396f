-- Medical: patients, allergies, appointments, procedures, clinical notes,
-- invoices. Runs as the schema owner with search_path `medical`, after
-- platform provisioning created btree_gist and the tenancy SQL
-- (current_org(), audit_log, enable_tenancy()). RLS is enabled and forced on
-- every table: with no tenant set, nothing is visible. Children reference
-- their parent by (organization_id, id): a row of one organization can never
-- point at a row of another.

create table patients (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  constraint patients_org_id_key unique (organization_id, id),
  mrn text not null check (mrn ~ '^[A-Za-z0-9-]{1,32}$'),
  given_name text not null check (length(btrim(given_name)) between 1 and 100),
  family_name text not null check (length(btrim(family_name)) between 1 and 100),
  birth_date date not null check (birth_date > date '1880-01-01'),
  sex text not null check (sex in ('female', 'male', 'other', 'unknown')),
  blood_type text check (blood_type in ('a_pos','a_neg','b_pos','b_neg','ab_pos','ab_neg','o_pos','o_neg')),
  -- AES-256-GCM sealed values (nonce || ciphertext) and the id of their key.
  contact_enc bytea,
  contact_key_id text,
  insurance_enc bytea,
  insurance_key_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint patients_org_mrn_key unique (organization_id, mrn),
  check ((contact_enc is null) = (contact_key_id is null)),
  check ((insurance_enc is null) = (insurance_key_id is null))
);
create index patients_org_family_idx on patients (organization_id, lower(family_name), lower(given_name), id);

create table allergies (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  patient_id uuid not null,
  foreign key (organization_id, patient_id) references patients (organization_id, id),
  substance text not null check (length(btrim(substance)) between 1 and 200),
  reaction text check (reaction is null or length(reaction) <= 500),
  severity text not null check (severity in ('mild', 'moderate', 'severe', 'life_threatening')),
  created_at timestamptz not null default now()
);
create index allergies_patient_idx on allergies (patient_id);

create table appointments (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  constraint appointments_org_id_key unique (organization_id, id),
  patient_id uuid not null,
  foreign key (organization_id, patient_id) references patients (organization_id, id),
  practitioner_id uuid not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  status text not null default 'scheduled'
    check (status in ('scheduled', 'checked_in', 'completed', 'cancelled', 'no_show')),
  reason text check (reason is null or length(reason) <= 500),
  idempotency_key text check (idempotency_key is null or length(idempotency_key) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint appointments_ends_after_start check (ends_at > starts_at),
  constraint appointments_idempotency_key unique (organization_id, idempotency_key),
  -- A practitioner is never booked twice at once; cancelled and no-show
  -- appointments free their slot.
  constraint appointments_no_overlap exclude using gist (
    organization_id with =, practitioner_id with =, tstzrange(starts_at, ends_at, '[)') with &&
  ) where (status not in ('cancelled', 'no_show'))
);
create index appointments_org_start_idx on appointments (organization_id, starts_at, id);
create index appointments_practitioner_idx on appointments (practitioner_id, starts_at);
create index appointments_patient_idx on appointments (patient_id);

create table procedures (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  patient_id uuid not null,
  foreign key (organization_id, patient_id) references patients (organization_id, id),
  appointment_id uuid,
  foreign key (organization_id, appointment_id) references appointments (organization_id, id),
  code text not null check (code ~ '^[A-Z0-9][A-Z0-9.]{3,9}$'),
  performed_at timestamptz not null,
  performer_id uuid not null,
  notes text check (notes is null or length(notes) <= 10000),
  created_at timestamptz not null default now()
);
create index procedures_patient_idx on procedures (patient_id, performed_at);

create table clinical_notes (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  constraint clinical_notes_org_id_key unique (organization_id, id),
  patient_id uuid not null,
  foreign key (organization_id, patient_id) references patients (organization_id, id),
  author_id uuid not null,
  body_enc bytea not null,
  body_key_id text not null,
  amends_id uuid,
  foreign key (organization_id, amends_id) references clinical_notes (organization_id, id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  signed_at timestamptz,
  signed_by uuid,
  check ((signed_at is null) = (signed_by is null))
);
create index clinical_notes_patient_idx on clinical_notes (patient_id, created_at);

-- Second wall behind the resolvers: a signed note never changes or disappears.
create function forbid_signed_note_change() returns trigger language plpgsql as $$
begin
  if old.signed_at is not null then
    raise exception 'clinical note % is signed and cannot change', old.id
      using errcode = 'integrity_constraint_violation', constraint = 'clinical_notes_signed_immutable';
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end $$;
create trigger clinical_notes_signed_immutable before update or delete on clinical_notes
  for each row execute function forbid_signed_note_change();

create table invoices (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  constraint invoices_org_id_key unique (organization_id, id),
  patient_id uuid not null,
  foreign key (organization_id, patient_id) references patients (organization_id, id),
  status text not null default 'draft' check (status in ('draft', 'issued', 'paid', 'void')),
  currency text not null default 'EUR' check (currency = 'EUR'),
  issued_at timestamptz,
  paid_at timestamptz,
  voided_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index invoices_org_created_idx on invoices (organization_id, created_at, id);
create index invoices_patient_idx on invoices (patient_id);

create table invoice_lines (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  invoice_id uuid not null,
  foreign key (organization_id, invoice_id) references invoices (organization_id, id),
  position integer not null check (position >= 0),
  code text not null check (length(btrim(code)) between 1 and 20),
  description text not null check (length(btrim(description)) between 1 and 500),
  quantity integer not null check (quantity between 1 and 10000),
  unit_price_cents bigint not null check (unit_price_cents between 0 and 100000000),
  constraint invoice_lines_position_key unique (invoice_id, position)
);

-- Lines of an issued (or paid, or void) invoice are frozen.
create function forbid_issued_line_change() returns trigger language plpgsql as $$
declare s text;
begin
  select status into s from invoices where id = coalesce(new.invoice_id, old.invoice_id);
  if s is distinct from 'draft' then
    raise exception 'invoice % is % and its lines cannot change', coalesce(new.invoice_id, old.invoice_id), s
      using errcode = 'integrity_constraint_violation', constraint = 'invoice_lines_immutable';
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end $$;
create trigger invoice_lines_immutable before insert or update or delete on invoice_lines
  for each row execute function forbid_issued_line_change();

call enable_tenancy('patients');
call enable_tenancy('allergies');
call enable_tenancy('appointments');
call enable_tenancy('procedures');
call enable_tenancy('clinical_notes');
call enable_tenancy('invoices');
call enable_tenancy('invoice_lines');
