// PostGraphile over Hub's medical schema, set up as a team would to serve
// the same data with the same guarantees: connected as the medical
// service's login role (no BYPASSRLS), the caller's access token verified
// against identity's JWKS on every request, and the tenant, user and roles
// set per request (pgSettings, i.e. set_config in the request's
// transaction) so PostgreSQL's row-level security applies. bench/run starts
// it with DATABASE_URL, JWKS_URL, ISSUER, AUDIENCE and PORT.
import { createServer } from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const jwks = createRemoteJWKSet(new URL(process.env.JWKS_URL));
const verify = { issuer: process.env.ISSUER, audience: process.env.AUDIENCE };

const preset = {
  extends: [PostGraphileAmberPreset],
  // Its default only orders by indexed columns; Hub orders patients by name.
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["medical"] })],
  grafserv: { graphqlPath: "/graphql", graphiql: false },
  grafast: {
    async context(requestContext) {
      const header = requestContext.node?.req?.headers?.authorization ?? "";
      if (!header.startsWith("Bearer ")) {
        return { pgSettings: {} };
      }
      const { payload } = await jwtVerify(header.slice(7), jwks, verify);
      return {
        pgSettings: {
          "app.organization_id": String(payload.org),
          "app.user_id": String(payload.sub),
          "app.roles": (payload.roles ?? []).join(","),
        },
      };
    },
  },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
serv.addTo(server).then(() => {
  server.listen(Number(process.env.PORT), "127.0.0.1", () => {
    console.log(`postgraphile listening on ${process.env.PORT}`);
  });
});
