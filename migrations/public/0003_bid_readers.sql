-- A buyer's administrators and auditors read its opened bids as its
-- procurement officers do (the supplier's read theirs by the tenant
-- policy): the sealed-bid rule still holds, deciding stays the officers'.
drop policy bids_opened_to_buyer on bids;
create policy bids_opened_to_buyer on bids for select
  using (buyer_id = current_org()
         and (has_app_role('procurement_officer') or has_app_role('org_admin') or has_app_role('auditor'))
         and status <> 'draft' and tender_opened(buyer_id, tender_id));
