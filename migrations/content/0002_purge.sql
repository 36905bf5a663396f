-- Files outlive nothing they should: a deleted document's bytes and rows
-- go once its retention date has passed (at once when it has none), and a
-- document made to expire (a data export archive) goes at `expires_at`,
-- deleted or not. The audit trail keeps the document's id and what was
-- done to it. Only the schema owner sees every organization's rows, so the
-- service's purge asks through these two functions, as the upload sweep does.

select set_config('search_path', current_schema() || ', pg_temp', true);

alter table documents add column expires_at timestamptz;
create index documents_purge_idx on documents (deleted_at) where deleted_at is not null;
create index documents_expiry_idx on documents (expires_at) where expires_at is not null;

create policy documents_purged_by_owner on documents for all to current_user using (true);

-- `clock` is the purge's clock (now, or a later moment for a dry look ahead).
create function document_purgeable(d documents, clock timestamptz) returns boolean language sql stable as $$
  select (d.deleted_at is not null and d.deleted_at <= clock
          and (d.retention_until is null or d.retention_until < (clock at time zone 'UTC')::date))
      or d.expires_at < clock
$$;

-- The purgeable documents' stored objects (one row per distinct key; a
-- document without versions has a null key).
create function purgeable_documents(clock timestamptz, max_rows int)
  returns table (organization_id uuid, id uuid, storage_key text)
  language plpgsql stable security definer set search_path from current as $$
begin
  return query
    with due as (
      select d.organization_id, d.id from documents d
       where document_purgeable(d, clock) order by coalesce(d.expires_at, d.deleted_at) limit max_rows)
    select distinct due.organization_id, due.id, v.storage_key
      from due left join document_versions v on v.organization_id = due.organization_id and v.document_id = due.id;
end $$;

-- Forgets a document whose bytes are gone, if it is still purgeable.
create function forget_document(doc uuid, clock timestamptz) returns boolean
  language plpgsql volatile security definer set search_path from current as $$
begin
  if not exists (select 1 from documents d where d.id = doc and document_purgeable(d, clock)) then
    return false;
  end if;
  delete from document_versions v where v.document_id = doc;
  delete from documents d where d.id = doc;
  return true;
end $$;
