// The generated client against a running router, through a real Apollo
// Client: first-party apps by persisted id and by ad-hoc body, the insurer
// partner by id only — with the seeded demo data.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createPersistedQueryManifestVerificationLink } from "@apollo/persisted-query-lists";
import { ApolloClient, ApolloLink, gql, InMemoryCache } from "@apollo/client";
import { beforeAll, describe, expect, it } from "vitest";
import { createHubClient, errorsOf, type Persisted } from "../src/client";
import {
  OpenTendersDocument,
  PartnerAppointmentsDocument,
  PartnerInvoicesDocument,
  SignInDocument,
  TodayAppointmentsDocument,
} from "../src/gql/graphql";
import { DEMO_PASSWORD, ROUTER_URL, TOKEN_URL, thisWeek } from "./env";

type Manifest = { operations: { id: string; name: string; type: "query" | "mutation" | "subscription"; body: string }[] };
const manifest = (client: string): Manifest =>
  JSON.parse(readFileSync(join(import.meta.dirname, `../manifests/${client}.json`), "utf8"));

/** Every request body a client sent. */
function recorder() {
  const sent: Record<string, unknown>[] = [];
  const record: typeof fetch = async (input, init) => {
    sent.push(JSON.parse(String(init?.body)));
    return fetch(input, init);
  };
  return { sent, fetch: record };
}

function client(persisted: Persisted, token?: string, extra: { locale?: string; fetch?: typeof fetch } = {}) {
  return createHubClient({ url: ROUTER_URL, token: () => token, persisted, ...extra });
}

async function signIn(organization: string, email: string): Promise<string> {
  const { data } = await client("runtime").mutate({
    mutation: SignInDocument,
    variables: { input: { organization, email, password: DEMO_PASSWORD } },
  });
  if (!data) throw new Error(`sign-in of ${email} returned no data`);
  return data.login.accessToken;
}

const SEEDED_PATIENTS = ["Camille Bernard", "Lucas Petit", "Emma Robert", "Hugo Richard", "Léa Durand", "Noah Moreau"];

describe("first-party clients", () => {
  let doctor: string;
  beforeAll(async () => {
    doctor = await signIn("clinique-saint-paul", "dr.martin@clinique-saint-paul.example");
  });

  it("run by id only: the client's own hash of what it sends is in its manifest", async () => {
    const rec = recorder();
    const mismatches: string[] = [];
    // Apollo's verification link checks each operation against the manifest
    // body before it leaves, as the client transformed it (`__typename` …).
    const verify = createPersistedQueryManifestVerificationLink({
      loadManifest: () => manifest("medical-web"),
      onVerificationFailed: (d) => mismatches.push(`${d.reason}: ${d.operation.operationName}`),
    });
    const hub = createHubClient({ url: ROUTER_URL, token: () => doctor, persisted: "runtime", fetch: rec.fetch });
    const verified = new ApolloClient({ link: ApolloLink.from([verify, hub.link]), cache: new InMemoryCache() });
    const { data, error } = await verified.query({ query: TodayAppointmentsDocument, variables: thisWeek(), fetchPolicy: "no-cache" });
    expect(error).toBeUndefined();
    expect(mismatches).toEqual([]);
    const rows = data?.appointments.nodes ?? [];
    expect(rows.length).toBeGreaterThanOrEqual(SEEDED_PATIENTS.length);
    const names = new Set(rows.map((a) => `${a.patient.givenName} ${a.patient.familyName}`));
    for (const p of SEEDED_PATIENTS) expect(names).toContain(p);
    expect(rows.every((a) => a.practitioner?.displayName === "Dr Claire Martin")).toBe(true);
    // A practitioner reads the clinical field.
    expect(rows.some((a) => a.patient.bloodType !== undefined)).toBe(true);

    expect(rec.sent.length).toBe(1);
    const body = rec.sent[0]!;
    expect(body.query).toBeUndefined();
    const ext = body.extensions as { persistedQuery: { sha256Hash: string } };
    const entry = manifest("medical-web").operations.find((o) => o.name === "TodayAppointments");
    expect(ext.persistedQuery.sha256Hash).toBe(entry?.id);
  });

  it("run ad-hoc operations by body where the router allows them", async () => {
    const rec = recorder();
    const adHoc = gql`
      query AdHocWhoAmI {
        me {
          email
        }
      }
    `;
    const { data } = await client("off", doctor, { fetch: rec.fetch }).query<{ me: { email: string } }>({ query: adHoc });
    expect(data?.me.email).toBe("dr.martin@clinique-saint-paul.example");
    expect(String(rec.sent[0]?.query)).toContain("AdHocWhoAmI");
  });

  it("show a forbidden field as a localized error and keep the rest", async () => {
    const secretary = await signIn("clinique-saint-paul", "secretary.dupont@clinique-saint-paul.example");
    const { data, error } = await client("runtime", secretary, { locale: "fr" }).query({
      query: TodayAppointmentsDocument,
      variables: thisWeek(),
      errorPolicy: "all",
    });
    const rows = data?.appointments.nodes ?? [];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((a) => a.patient.bloodType === null)).toBe(true);
    const errors = errorsOf(error);
    expect(errors.length).toBe(rows.length);
    expect(errors.every((e) => e.code === "FORBIDDEN" && e.path?.at(-1) === "bloodType")).toBe(true);
    // The subgraph's French message, not the English one.
    expect(errors[0]?.message).toBe("Vous n'êtes pas autorisé à effectuer cette action.");
  });

  it("procurement-web lists open tenders with their buyers", async () => {
    const buyer = await signIn("acme-fournitures", "sales@acme-fournitures.example");
    const { data } = await client("runtime", buyer).query({ query: OpenTendersDocument, variables: { first: 20 } });
    const tenders = data?.tenders.nodes ?? [];
    expect(tenders.length).toBeGreaterThan(0);
    expect(tenders.every((t) => (t.buyer?.name.length ?? 0) > 0)).toBe(true);
    expect(tenders.map((t) => t.buyer?.name)).toContain("Ville de Lyon");
  });
});

describe("the insurer partner", () => {
  let partner: string;
  let invoiceId: string;
  let doctor: string;

  beforeAll(async () => {
    // The clinic's admin grants the insurer access (shown once: the secret).
    const admin = await signIn("clinique-saint-paul", "admin@clinique-saint-paul.example");
    const created = await client("off", admin).mutate<{
      createPartnerClient: { clientSecret: string; client: { clientId: string } };
    }>({
      mutation: gql`
        mutation GrantInsurer($name: String!, $scopes: [String!]!) {
          createPartnerClient(name: $name, scopes: $scopes) {
            clientSecret
            client {
              clientId
            }
          }
        }
      `,
      variables: { name: `Mutuelle test ${Date.now()}`, scopes: ["medical:read", "medical:billing"] },
    });
    const creds = created.data!.createPartnerClient;
    const token = await fetch(TOKEN_URL, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: creds.client.clientId,
        client_secret: creds.clientSecret,
      }),
    });
    expect(token.status).toBe(200);
    partner = ((await token.json()) as { access_token: string }).access_token;

    // An invoice for a seeded patient, for the partner to find.
    doctor = await signIn("clinique-saint-paul", "dr.martin@clinique-saint-paul.example");
    const appts = await client("runtime", doctor).query({ query: TodayAppointmentsDocument, variables: thisWeek() });
    const patientId = appts.data!.appointments.nodes[0]!.patient.id;
    const billing = await signIn("clinique-saint-paul", "billing@clinique-saint-paul.example");
    const invoice = await client("off", billing).mutate<{ createInvoice: { id: string } }>({
      mutation: gql`
        mutation DraftInvoice($input: CreateInvoiceInput!) {
          createInvoice(input: $input) {
            id
          }
        }
      `,
      variables: {
        input: { patientId, lines: [{ code: "C", description: "Consultation", quantity: 1, unitPriceCents: 2650 }] },
      },
    });
    invoiceId = invoice.data!.createInvoice.id;
  });

  it("reads appointments and invoices by the ids of its manifest, never sending a body", async () => {
    const rec = recorder();
    const insurer = client(manifest("partner-insurer"), partner, { fetch: rec.fetch });
    const { data: appts } = await insurer.query({ query: PartnerAppointmentsDocument, variables: { ...thisWeek(), first: 50 } });
    const mine = await client("runtime", doctor).query({ query: TodayAppointmentsDocument, variables: thisWeek() });
    expect(appts?.appointments.nodes.map((a) => a.id).sort()).toEqual(
      mine.data?.appointments.nodes.map((a) => a.id).sort(),
    );
    const { data: invoices } = await insurer.query({ query: PartnerInvoicesDocument, variables: { first: 50 } });
    const invoice = invoices?.invoices.nodes.find((i) => i.id === invoiceId);
    expect(invoice?.totalCents).toBe(2650);
    expect(invoice?.status).toBe("DRAFT");
    expect(rec.sent.length).toBe(2);
    expect(rec.sent.every((b) => b.query === undefined && b.extensions !== undefined)).toBe(true);
  });

  it("cannot send an operation body", async () => {
    const { error } = await client("off", partner).query({
      query: PartnerAppointmentsDocument,
      variables: thisWeek(),
      errorPolicy: "all",
    });
    expect(errorsOf(error).map((e) => e.code)).toContain("PERSISTED_QUERY_ID_REQUIRED");
  });

  it("is refused what its scopes do not open", async () => {
    const { error } = await client("off", partner).query({ query: OpenTendersDocument, errorPolicy: "all" });
    expect(errorsOf(error).map((e) => e.code)).toContain("PERSISTED_QUERY_ID_REQUIRED");
    const byId = await client("runtime", partner).query({ query: OpenTendersDocument, errorPolicy: "all" });
    expect(errorsOf(byId.error).map((e) => e.code)).toContain("FORBIDDEN");
  });
});
