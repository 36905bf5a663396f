-- The W3C trace context of the request that wrote an event, carried in the
-- envelope so a consumer's work continues that request's trace. Ids only:
-- no personal data.
alter table event_outbox add column if not exists traceparent text;
