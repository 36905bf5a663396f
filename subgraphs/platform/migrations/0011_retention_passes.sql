-- One row per scheduled retention pass of this schema. Every instance given
-- the retention job's credentials (a worker) schedules passes; the first to
-- take the schema's retention lock in a period passes, the others find its
-- row and skip: once per period, not once per instance. The owner's and the
-- retention job's only: the service role has no access.
create table if not exists retention_passes (
  started_at timestamptz primary key default clock_timestamp(),
  instance text not null
);
call grant_service('revoke all on retention_passes from %I');
