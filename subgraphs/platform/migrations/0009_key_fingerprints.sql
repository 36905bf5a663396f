-- Keys every instance of a service must share (field encryption), by
-- fingerprint: the first instance records each configured key id's
-- fingerprint; an instance configured with another key under the same id
-- learns it at start-up and never becomes ready (`platform::runtime`). A
-- fingerprint is SHA-256 over a label and the key: it does not reveal the key.
create table if not exists key_fingerprints (
  setting text not null,
  key_id text not null,
  fingerprint text not null,
  first_seen timestamptz not null default now(),
  primary key (setting, key_id)
);
alter table key_fingerprints enable row level security;
alter table key_fingerprints force row level security;
drop policy if exists key_fingerprints_by_owner on key_fingerprints;
create policy key_fingerprints_by_owner on key_fingerprints for all to current_user using (true);
call grant_service('revoke all on key_fingerprints from %I');

-- Records `fingerprint` for the key id if it is new; true when it is the one
-- recorded. The only way the service role reaches the table.
create or replace function agree_key(key_setting text, id text, print text) returns boolean
  language plpgsql volatile security definer set search_path from current as $$
declare
  recorded text;
begin
  insert into key_fingerprints (setting, key_id, fingerprint) values (key_setting, id, print)
    on conflict (setting, key_id) do nothing;
  select k.fingerprint into recorded from key_fingerprints k where k.setting = key_setting and k.key_id = id;
  return recorded = print;
end $$;
