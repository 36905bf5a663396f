"""Schemathesis hooks for fuzzing Hub through its router.

Hub answers refused input with a GraphQL error and a stable
`extensions.code` (BAD_USER_INPUT, FORBIDDEN, NOT_FOUND ...): those are the
platform doing its job. A fuzzed request fails only when the platform did
not understand what went wrong: a 5xx status, or an error whose code is
INTERNAL (or that carries no code at all).
"""

import json

import schemathesis


def _errors(response):
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    return body.get("errors") or []


@schemathesis.check
def no_internal_error(ctx, response, case):
    """No 5xx, and every GraphQL error carries a code other than INTERNAL."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.content[:500]!r}")
    errors = _errors(response)
    if errors is None:
        raise AssertionError(f"not a GraphQL response (HTTP {response.status_code}): {response.content[:300]!r}")
    for error in errors:
        code = ((error or {}).get("extensions") or {}).get("code")
        if code is None or code == "INTERNAL":
            raise AssertionError(f"{code or 'no code'}: {error.get('message')!r} (request id {response.headers.get('x-request-id')})")
