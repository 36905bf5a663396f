// `hub schema diff` grades changes as graphql-inspector 8 does: its verdict on
// every fixture (schema-review/fixtures/<case>/{old,new}.graphql) must equal
// expected.txt, which the Rust tests hold hub's own verdict to.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { diff, type Change } from "@graphql-inspector/core";
import { buildSchema } from "graphql";
import { describe, expect, it } from "vitest";

const fixtures = join(import.meta.dirname, "../../schema-review/fixtures");

// Hub writes schema coordinates (`Type.field(arg:)`, `@directive(arg:)`);
// the inspector writes dotted paths.
function coordinate(c: Change): string | null {
  const type = c.type as string;
  let path = c.path ?? "schema";
  if (
    type.startsWith("DIRECTIVE_USAGE_FIELD_DEFINITION_") ||
    type.startsWith("DIRECTIVE_USAGE_ENUM_VALUE_") ||
    type === "DIRECTIVE_USAGE_ARGUMENT_ADDED" ||
    type === "DIRECTIVE_USAGE_ARGUMENT_REMOVED"
  ) {
    // The inspector reports a deprecation twice (the change and the
    // `@deprecated` usage); hub once.
    return null;
  }
  path = path.replace(/\.@deprecated$/, "");
  if (type.startsWith("FIELD_ARGUMENT_") || type.startsWith("DIRECTIVE_USAGE_ARGUMENT_DEFINITION_")) {
    const parts = path.split(".");
    if (parts.length >= 3) path = `${parts[0]}.${parts[1]}(${parts.slice(2).join(".")}:)`;
  }
  if (type === "DIRECTIVE_ARGUMENT_ADDED") {
    const meta = c.meta as { addedDirectiveArgumentName?: string };
    path = `${path}(${meta.addedDirectiveArgumentName}:)`;
  } else if (type.startsWith("DIRECTIVE_ARGUMENT_")) {
    const [d, ...arg] = path.split(".");
    if (arg.length) path = `${d}(${arg.join(".")}:)`;
  }
  return path;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const cases = readdirSync(fixtures).sort();

describe("graphql-inspector on the schema-review fixtures", () => {
  it("has a fixture per rule family", () => {
    expect(cases.length).toBeGreaterThanOrEqual(13);
  });
  for (const name of cases) {
    it(name, async () => {
      const read = (f: string) => readFileSync(join(fixtures, name, f), "utf8");
      const changes = await diff(buildSchema(read("old.graphql")), buildSchema(read("new.graphql")));
      const got = changes
        .flatMap((c) => {
          const path = coordinate(c);
          return path === null ? [] : [{ path, type: c.type as string, level: c.criticality.level as string }];
        })
        // Code-point order, as hub sorts.
        .sort((a, b) => cmp(a.path, b.path) || cmp(a.type, b.type))
        .map(({ path, type, level }) => `${level} ${type} ${path}`);
      const want = read("expected.txt").trim().split("\n");
      expect(got).toEqual(want);
    });
  }
});
