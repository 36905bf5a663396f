-- Administrators and auditors read what they answer for: the practice's
-- administrators its administrative documents, a public organization's
-- administrators and auditors its procurement files and certificates (their
-- own organization's only). Clinical documents stay with clinicians.
-- Restates the role rule of 0001 with them (same login-role binding).

select set_config('search_path', current_schema() || ', pg_temp', true);

do $do$ begin
  execute format('drop policy documents_by_classification on documents');
  execute format($p$create policy documents_by_classification on documents as restrictive for select to %I using (
    case classification
      when 'clinical' then has_vertical('medical') and (has_app_role('practitioner') or has_app_role('nurse'))
      when 'administrative' then has_vertical('medical') and (has_app_role('practitioner') or has_app_role('nurse')
                                   or has_app_role('secretary') or has_app_role('billing_clerk')
                                   or has_app_role('org_admin'))
      when 'procurement_public' then has_vertical('public')
      when 'procurement_internal' then has_vertical('public') and organization_id = current_org()
                                   and (has_app_role('procurement_officer') or has_app_role('procurement_viewer')
                                        or has_app_role('org_admin') or has_app_role('auditor'))
      when 'compliance' then has_vertical('public')
                                   and ((organization_id = current_org()
                                         and (has_app_role('supplier_admin') or has_app_role('supplier_user')
                                              or has_app_role('org_admin') or has_app_role('auditor')))
                                        or has_app_role('procurement_officer'))
      else false
    end)$p$, regexp_replace(current_user, '_owner$', ''));
end $do$;
