import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The end-to-end files share one platform: run them one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // One `graphql` module for the tests and the inspector (graphql-js
    // refuses types from a second copy).
    server: { deps: { inline: ["@graphql-inspector/core"] } },
  },
});
