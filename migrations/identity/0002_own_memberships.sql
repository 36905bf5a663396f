-- A signed-in user sees their own memberships in every organization (and
-- nothing else of them), so that a password change or reset can end the
-- user's sessions in every organization, one tenant scope at a time.
create policy memberships_own on memberships for select using (user_id = current_app_user());
