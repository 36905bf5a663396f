// Typed documents and TypeScript types for every client's operations, from the
// router's API schema (`hub compose` writes api-schema.graphql).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "api-schema.graphql",
  documents: ["operations/**/*.graphql"],
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        // Scalars as they travel in JSON.
        scalars: {
          DateTime: "string",
          Date: "string",
          Amount: "number",
          JSON: "unknown",
        },
        strictScalars: true,
      },
    },
  },
};

export default config;
