-- Events this schema's consumers applied: the idempotency record, written
-- in the consumer's transaction with its effect.
create table if not exists processed_events (
  consumer text not null,
  event_id uuid not null,
  organization_id uuid not null,
  processed_at timestamptz not null default now(),
  primary key (consumer, event_id)
);
call enable_tenancy('processed_events');
call grant_service('grant select, insert on processed_events to %I');
