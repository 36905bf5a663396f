-- The benchmark's larger data set, on top of the demo data (`hub seed`), in
-- clinique-saint-paul: 400 more patients (every other one with two
-- allergies) and a month of appointments (March 2031, weekdays 08:00-18:00,
-- every 30 minutes) for each of its practitioners and nurses. Run as the
-- cluster's superuser; idempotent.
\set ON_ERROR_STOP on
begin;

create temporary table bench_org as
  select id from identity.organizations where slug = 'clinique-saint-paul';

insert into medical.patients (organization_id, mrn, given_name, family_name, birth_date, sex)
select o.id, 'BENCH-' || n, 'Patient' || n, 'Bench' || lpad(n::text, 4, '0'),
       date '1950-01-01' + (n * 37 % 20000), (array['female', 'male', 'other', 'unknown'])[1 + n % 4]
from bench_org o, generate_series(1, 400) n
on conflict (organization_id, mrn) do nothing;

insert into medical.allergies (organization_id, patient_id, substance, severity)
select p.organization_id, p.id, s.substance, s.severity
from medical.patients p
join bench_org o on o.id = p.organization_id
cross join (values ('latex', 'mild'), ('penicillin', 'severe')) s(substance, severity)
where p.mrn like 'BENCH-%' and substring(p.mrn from 7)::int % 2 = 0
  and not exists (select 1 from medical.allergies a where a.patient_id = p.id);

with clinicians as (
  select m.user_id, row_number() over (order by m.user_id) as k
  from identity.memberships m join bench_org o on o.id = m.organization_id
  where m.roles && array['practitioner', 'nurse']
),
bench_patients as (
  select id, organization_id, row_number() over (order by mrn) as k
  from medical.patients where mrn like 'BENCH-%' and organization_id = (select id from bench_org)
),
slots as (
  select s as starts_at
  from generate_series(timestamptz '2031-03-01 08:00:00+00', timestamptz '2031-03-31 17:30:00+00', interval '30 minutes') s
  where extract(isodow from s) < 6 and (s at time zone 'UTC')::time between time '08:00' and time '17:30'
)
insert into medical.appointments (organization_id, patient_id, practitioner_id, starts_at, ends_at, reason)
select p.organization_id, p.id, c.user_id, sl.starts_at, sl.starts_at + interval '30 minutes', 'Consultation'
from slots sl
cross join clinicians c
join bench_patients p on p.k = 1 + (extract(epoch from sl.starts_at)::bigint / 1800 + c.k * 7) % 400
where not exists (
  select 1 from medical.appointments a
  where a.practitioner_id = c.user_id and a.starts_at = sl.starts_at
);

commit;
-- Settled before measuring: no autovacuum pass runs during the benchmark.
vacuum (analyze);
