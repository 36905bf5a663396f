"""A third-party FHIR client (fhirpy) against Hub's FHIR API, with nothing
but the base URL and an access token: searches patients (following the
pages), reads one, fetches its $everything Bundle. Prints what it got as
JSON for the test to check."""

import json
import sys

from fhirpy import SyncFHIRClient


def main() -> int:
    base, token, family = sys.argv[1], sys.argv[2], sys.argv[3]
    client = SyncFHIRClient(base, authorization=f"Bearer {token}")
    everyone = client.resources("Patient").limit(2).fetch_all()
    found = client.resources("Patient").search(name=family).fetch()
    patient = client.reference("Patient", found[0].id).to_resource()
    bundle = client.execute(f"Patient/{patient.id}/$everything", method="get")
    print(
        json.dumps(
            {
                "all": sorted(p.id for p in everyone),
                "found": [p.id for p in found],
                "read": {"id": patient.id, "family": patient["name"][0]["family"]},
                "everything": sorted({e["resource"]["resourceType"] for e in bundle["entry"]}),
                "everythingTotal": bundle["total"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
