-- A practitioner's name has its own sequence: identity's renames
-- (`identity.user.updated`, erasure's "Erased user" included) arrive on
-- another stream than memberships, so a redelivered older rename must lose
-- to a newer one without a rename ever blocking a roles change.
alter table practitioners add column name_seq bigint not null default 0;
update practitioners set name_seq = last_seq where display_name is not null;
