"""Validates every FHIR resource in a directory (one JSON file each) with the
fhir.resources R4B models (identical to R4 for the resources Hub serves),
Bundles with every entry inside. Prints one line per file; exits 1 if any
is invalid."""

import json
import pathlib
import sys

from fhir.resources.R4B import get_fhir_model_class


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: validate.py <directory of .json resources>", file=sys.stderr)
        return 2
    files = sorted(pathlib.Path(sys.argv[1]).glob("*.json"))
    failed = 0
    for f in files:
        data = json.loads(f.read_text(encoding="utf-8"))
        try:
            get_fhir_model_class(data["resourceType"]).model_validate(data)
            print(f"valid {f.name} ({data['resourceType']})")
        except Exception as e:  # pydantic's ValidationError and unknown types alike
            failed += 1
            print(f"INVALID {f.name}: {e}")
    print(f"fhir.resources: {len(files) - failed} of {len(files)} valid")
    return 0 if failed == 0 and files else 1


if __name__ == "__main__":
    sys.exit(main())
