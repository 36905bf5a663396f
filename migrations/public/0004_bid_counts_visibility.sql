-- `bid_counts` runs as the schema owner, who sees every tender (the
-- reminder job's `tenders_reminded_by_owner`), so the visibility check of
-- 0001 no longer filtered anything. It now states the caller's rule itself,
-- the same as the tender read policies: the caller's own tender (tenant
-- policy), or a published one and the caller has the public vertical
-- (`tenders_published`). Counts of tenders the caller cannot see: none.
select set_config('search_path', current_schema() || ', pg_temp', true);

create or replace function bid_counts(tender_ids uuid[]) returns table (tender_id uuid, bids bigint)
  language plpgsql stable security definer set search_path from current as $$
begin
  return query
    select b.tender_id, count(*) from bids b
     where b.tender_id = any(tender_ids) and b.status in ('submitted', 'accepted', 'rejected')
       and exists (select 1 from tenders t
                    where t.id = b.tender_id
                      and (t.organization_id = current_org()
                           or (t.status <> 'draft' and has_vertical('public'))))
     group by b.tender_id;
end $$;
