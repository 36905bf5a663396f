-- Who hears of a tender's changes: the suppliers that bid on it and the
-- users that follow it. Followers are rows of the follower's organization.
create table tender_followers (
  organization_id uuid not null,
  tender_id uuid not null,
  user_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (tender_id, user_id)
);
create index tender_followers_org_idx on tender_followers (organization_id);
call enable_tenancy('tender_followers');
-- Read by the owner's `tender_audience` only (never by the service's role).
create policy tender_followers_read_by_owner on tender_followers for select to current_user using (true);

-- The deadline reminder is sent once, a day before.
alter table tenders add column reminder_sent_at timestamptz;

-- A tender's audience, for its buyer only: the supplier organizations with a
-- bid that is not a draft or withdrawn, and the followers (user,
-- organization). Security definer because bids and followers belong to the
-- suppliers (sealed bids stay invisible to the buyer); what it returns only
-- ever goes into an event for identity to deliver, never to a client.
create function tender_audience(tender uuid)
  returns table (organization_id uuid, user_id uuid)
  language plpgsql stable security definer set search_path from current as $$
begin
  if not exists (select 1 from tenders t where t.id = tender and t.organization_id = current_org()) then
    return;
  end if;
  return query
    select distinct b.organization_id, null::uuid from bids b
     where b.tender_id = tender and b.status in ('submitted', 'accepted', 'rejected')
    union all
    select f.organization_id, f.user_id from tender_followers f where f.tender_id = tender;
end $$;

-- The owner's `claim_deadline_reminders` reads and marks every buyer's
-- tenders (the service's role never does).
create policy tenders_reminded_by_owner on tenders for all to current_user using (true);

-- Published tenders whose deadline is less than `ahead` away and that had
-- no reminder yet, claimed (marked) for the caller's transaction: one
-- reminder per tender, whichever replica runs the job.
create function claim_deadline_reminders(ahead interval)
  returns table (id uuid, organization_id uuid)
  language plpgsql volatile security definer set search_path from current as $$
begin
  return query
    update tenders t set reminder_sent_at = now()
     where t.status = 'published' and t.reminder_sent_at is null
       and t.submission_deadline > now() and t.submission_deadline <= now() + ahead
    returning t.id, t.organization_id;
end $$;
