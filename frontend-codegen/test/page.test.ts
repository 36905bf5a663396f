// The example page in headless Chromium (Debian's `chromium`, driven by
// playwright-core): sign-in errors, the browser's language and the user's
// pick, today's appointments with a forbidden field marked (its message on
// hover), a partial answer explained, open tenders, sign-out at the server,
// a phone's width; screenshots under target/frontend/.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import PostalMime from "postal-mime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHubClient } from "../src/client";
import { BookAppointmentDocument, PatientsDocument, SignInDocument } from "../src/gql/graphql";
import { DEMO_PASSWORD, ROUTER_URL } from "./env";

const PORT = Number(process.env.HUB_PAGE_PORT ?? 5173);
const PAGE_URL = `http://127.0.0.1:${PORT}/`;
const CHROMIUM = process.env.HUB_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = join(import.meta.dirname, "../../target/frontend");
const root = join(import.meta.dirname, "..");
// Where the platform's development mail lands (.eml files): the Rust test passes its own.
const MAIL_DIR = process.env.HUB_MAIL_DIR ?? join(root, "../.hub/mail");

let vite: ChildProcess;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

async function waitFor(url: string, ms: number) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Books dr.martin today at 20:00 local time, once (idempotency key). */
async function bookToday(): Promise<string> {
  const signIn = async (email: string) => {
    const { data } = await createHubClient({ url: ROUTER_URL }).mutate({
      mutation: SignInDocument,
      variables: { input: { organization: "clinique-saint-paul", email, password: DEMO_PASSWORD } },
    });
    return data!.login;
  };
  const doctor = await signIn("dr.martin@clinique-saint-paul.example");
  const secretary = await signIn("secretary.dupont@clinique-saint-paul.example");
  const hub = createHubClient({ url: ROUTER_URL, token: () => secretary.accessToken });
  const { data } = await hub.query({ query: PatientsDocument, variables: { search: "Moreau", first: 1 } });
  const patient = data!.patients.nodes[0]!;
  const start = new Date();
  start.setHours(20, 0, 0, 0);
  const day = start.toISOString().slice(0, 10);
  await hub.mutate({
    mutation: BookAppointmentDocument,
    variables: {
      input: {
        patientId: patient.id,
        practitionerId: doctor.user.id,
        startsAt: start.toISOString(),
        endsAt: new Date(start.getTime() + 30 * 60_000).toISOString(),
        reason: "Example page test",
        idempotencyKey: `example-web-${day}`,
      },
    },
  });
  return `${patient.givenName} ${patient.familyName}`;
}

async function signIn(organization: string, email: string, locale: string, password = DEMO_PASSWORD) {
  await page.goto(PAGE_URL);
  await page.getByTestId("organization").selectOption(organization);
  await page.getByTestId("email").fill(email);
  await page.getByTestId("password").fill(password);
  await page.getByTestId("locale").selectOption(locale);
  await page.getByTestId("submit").click();
}

let patientToday: string;

beforeAll(async () => {
  patientToday = await bookToday();
  vite = spawn(process.execPath, ["node_modules/vite/bin/vite.js", "example-web", "--host", "127.0.0.1", "--port", String(PORT), "--strictPort"], {
    cwd: root,
    env: { ...process.env, VITE_HUB_ROUTER_URL: ROUTER_URL },
    stdio: "ignore",
  });
  await waitFor(PAGE_URL, 30_000);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  vite?.kill();
});

describe("the example page", () => {
  it("shows the server's localized message on a failed sign-in", async () => {
    await signIn("clinique-saint-paul", "dr.martin@clinique-saint-paul.example", "de", "wrong-password");
    const error = page.getByTestId("sign-in-error");
    await error.waitFor({ state: "visible" });
    expect(await error.textContent()).toBe("Ungültige Anmeldedaten oder Konto vorübergehend gesperrt.");
  });

  it("lists today's appointments; a secretary sees the clinical field as an error", async () => {
    await signIn("clinique-saint-paul", "secretary.dupont@clinique-saint-paul.example", "fr");
    const rows = page.getByTestId("appointment");
    await rows.first().waitFor();
    const row = rows.filter({ hasText: patientToday }).filter({ hasText: "Dr Claire Martin" });
    expect(await row.count()).toBeGreaterThanOrEqual(1);
    // A short marker in the cell, the server's message on hover.
    const forbidden = row.first().getByTestId("field-error");
    expect(await forbidden.textContent()).toBe("Accès restreint");
    expect(await forbidden.getAttribute("title")).toBe("Vous n'êtes pas autorisé à effectuer cette action.");
    // The page's own words, statuses and times in French, no seconds.
    expect(await page.getByTestId("appointments").locator("h2").textContent()).toContain("Rendez-vous du jour");
    expect(await row.first().locator("td").last().textContent()).toBe("Planifié");
    expect(await row.first().locator("td").first().textContent()).toMatch(/^\d{2}:\d{2}$/);
    expect(await page.getByTestId("who").textContent()).toContain("Sophie Dupont");
    expect(await page.getByTestId("sign-in").isHidden()).toBe(true);
    await page.screenshot({ path: join(SHOTS, "example-web-appointments.png"), fullPage: true });
  });

  it("shows the practitioner the field the secretary may not read", async () => {
    await page.getByTestId("sign-out").click();
    await signIn("clinique-saint-paul", "dr.martin@clinique-saint-paul.example", "en");
    const rows = page.getByTestId("appointment");
    await rows.first().waitFor();
    expect(await page.locator(".field-error").count()).toBe(0);
  });

  it("keeps today's appointments and says the answer is partial while identity does not answer", async () => {
    // The Rust test that runs this suite passes identity's process id; the
    // router gives up on a subgraph after a couple of seconds.
    const pid = Number(process.env.HUB_IDENTITY_PID);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGSTOP");
    try {
      await page.getByTestId("refresh-appointments").click();
      const status = page.locator('[data-testid="appointments-status"].partial');
      await status.waitFor({ timeout: 20_000 });
      expect(await status.textContent()).toContain("Partial answer");
      const rows = page.getByTestId("appointment");
      expect(await rows.filter({ hasText: patientToday }).count()).toBeGreaterThanOrEqual(1);
      expect(await rows.filter({ hasText: "Dr Claire Martin" }).count()).toBe(0);
      await page.screenshot({ path: join(SHOTS, "example-web-partial.png"), fullPage: true });
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await page.getByTestId("refresh-appointments").click();
    await page.getByTestId("appointment").filter({ hasText: "Dr Claire Martin" }).first().waitFor();
    expect(await page.locator('[data-testid="appointments-status"].partial').count()).toBe(0);
  });

  it("lists open tenders with their buyers for a procurement organization", async () => {
    await page.getByTestId("sign-out").click();
    await signIn("acme-fournitures", "sales@acme-fournitures.example", "en");
    const rows = page.getByTestId("tender");
    await rows.first().waitFor();
    expect(await rows.filter({ hasText: "Ville de Lyon" }).count()).toBeGreaterThan(0);
    expect(await page.getByTestId("appointments").isHidden()).toBe(true);
    // A deadline the way a person reads it: date and time, no seconds.
    const deadline = await rows.first().locator("td").nth(3).textContent();
    expect(deadline).toMatch(/\d{1,2}:\d{2}/);
    expect(deadline).not.toMatch(/\d:\d{2}:\d{2}/);
    await page.screenshot({ path: join(SHOTS, "example-web-tenders.png"), fullPage: true });
  });

  it("joins the clinic through the link of the invitation mail, in the invitee's language", async () => {
    const admin = await createHubClient({ url: ROUTER_URL }).mutate({
      mutation: SignInDocument,
      variables: {
        input: { organization: "clinique-saint-paul", email: "admin@clinique-saint-paul.example", password: DEMO_PASSWORD },
      },
    });
    const email = `nurse-${Date.now()}@example.org`;
    const invited = await fetch(ROUTER_URL, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${admin.data!.login.accessToken}` },
      body: JSON.stringify({
        query: "mutation($i: InviteUserInput!) { inviteUser(input: $i) { id } }",
        variables: { i: { email, roles: ["NURSE"], locale: "de" } },
      }),
    }).then((r) => r.json());
    expect(invited.errors).toBeUndefined();

    // Identity's mail consumer writes it shortly after the invitation's event.
    let mail: Awaited<ReturnType<typeof PostalMime.parse>> | undefined;
    const until = Date.now() + 20_000;
    while (!mail) {
      for (const f of readdirSync(MAIL_DIR, { withFileTypes: true }).filter((e) => e.name.endsWith(".eml"))) {
        const parsed = await PostalMime.parse(readFileSync(join(MAIL_DIR, f.name)));
        if (parsed.to?.some((a) => a.address === email)) mail = parsed;
      }
      if (!mail && Date.now() > until) throw new Error(`no invitation mail to ${email} in ${MAIL_DIR}`);
      if (!mail) await new Promise((r) => setTimeout(r, 200));
    }
    expect(mail.subject).toBe("Einladung zu Clinique Saint-Paul auf Hub");
    const link = mail.text!.split(/\s+/).find((w) => w.includes("/accept-invite?token="))!;
    expect(link.startsWith(PAGE_URL)).toBe(true);

    await page.getByTestId("sign-out").click();
    await page.goto(link);
    await page.getByTestId("invite-name").fill("Nina Neu");
    await page.getByTestId("invite-password").fill("a-long-nurse-passphrase");
    await page.getByTestId("accept").click();
    await page.getByTestId("notifications-status").waitFor();
    expect(await page.getByTestId("who").textContent()).toBe("Nina Neu — Clinique Saint-Paul");
    expect(await page.getByTestId("accept-invite").isHidden()).toBe(true);
    await page.getByTestId("appointments-status").waitFor();
    await page.screenshot({ path: join(SHOTS, "example-web-joined.png"), fullPage: true });
    // The same link a second time: the server's message, nothing else.
    await page.getByTestId("sign-out").click();
    await page.goto(link);
    await page.getByTestId("invite-password").fill("a-long-nurse-passphrase");
    await page.getByTestId("accept").click();
    await page.getByTestId("accept-error").waitFor({ state: "visible" });
    expect(await page.getByTestId("accept-error").textContent()).not.toBe("");
  });

  it("signs out at the server: the old token is refused and the form forgets the password", async () => {
    const signedIn = page.waitForResponse(async (r) => (await r.text().catch(() => "")).includes("accessToken"));
    await signIn("clinique-saint-paul", "dr.martin@clinique-saint-paul.example", "en");
    const accessToken: string = (await (await signedIn).json()).data.login.accessToken;
    await page.getByTestId("appointment").first().waitFor();
    await page.getByTestId("sign-out").click();
    await page.getByTestId("sign-in").waitFor();
    expect(await page.getByTestId("password").inputValue()).toBe("");
    expect(await page.getByTestId("appointment").count()).toBe(0);
    const me = await fetch(ROUTER_URL, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ query: "{ me { id } }" }),
    }).then((r) => r.json());
    expect(me.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("speaks the browser's language until the user picks one, and remembers the choice", async () => {
    const context = await browser.newContext({ locale: "de-DE" });
    const german = await context.newPage();
    try {
      await german.goto(PAGE_URL);
      expect(await german.getByTestId("locale").inputValue()).toBe("de");
      expect(await german.getByTestId("submit").textContent()).toBe("Anmelden");
      expect(await german.locator("html").getAttribute("lang")).toBe("de");
      await german.getByTestId("password").fill("wrong-password");
      await german.getByTestId("submit").click();
      await german.getByTestId("sign-in-error").waitFor({ state: "visible" });
      expect(await german.getByTestId("sign-in-error").textContent()).toBe(
        "Ungültige Anmeldedaten oder Konto vorübergehend gesperrt.",
      );
      await german.getByTestId("locale").selectOption("fr");
      expect(await german.getByTestId("submit").textContent()).toBe("Se connecter");
      await german.reload();
      expect(await german.getByTestId("locale").inputValue()).toBe("fr");
      expect(await german.getByTestId("submit").textContent()).toBe("Se connecter");
    } finally {
      await context.close();
    }
  });

  it("fits a phone's width: rows become labelled cards, nothing scrolls sideways", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await phone.goto(PAGE_URL);
      await phone.getByTestId("organization").selectOption("clinique-saint-paul");
      await phone.getByTestId("email").fill("secretary.dupont@clinique-saint-paul.example");
      await phone.getByTestId("password").fill(DEMO_PASSWORD);
      await phone.getByTestId("locale").selectOption("en");
      await phone.getByTestId("submit").click();
      const row = phone.getByTestId("appointment").filter({ hasText: patientToday }).first();
      await row.waitFor();
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      const box = await row.boundingBox();
      expect(box!.width).toBeLessThanOrEqual(390);
      expect(await row.locator("td").first().getAttribute("data-label")).toBe("Time");
      expect(await phone.locator("thead").first().isVisible()).toBe(false);
      await phone.screenshot({ path: join(SHOTS, "example-web-phone.png"), fullPage: true });
    } finally {
      await phone.close();
    }
  });

  it("passes the router's CORS and CSRF checks without console errors", () => {
    expect(consoleErrors).toEqual([]);
  });
});
