// One Apollo persisted query manifest per client, written by Apollo's own
// generator: it runs the documents through a real Apollo Client (which adds
// `__typename` and prints them as it sends them), so each id is the SHA-256
// of the exact body the client sends.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generatePersistedQueryManifest } from "@apollo/generate-persisted-query-manifest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

// Which operation folders make up each client's manifest. `shared` holds the
// first-party apps' sign-in and profile; partners never get them.
export const clients = {
  "medical-web": ["shared", "medical-web"],
  "procurement-web": ["shared", "procurement-web"],
  "partner-insurer": ["partner-insurer"],
};

mkdirSync("manifests", { recursive: true });
for (const [client, folders] of Object.entries(clients)) {
  const manifest = await generatePersistedQueryManifest(
    { documents: folders.map((f) => `operations/${f}/*.graphql`) },
    undefined,
  );
  const file = join("manifests", `${client}.json`);
  writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n");
  console.log(`wrote ${file} (${manifest.operations.length} operations)`);
}
