// The example page: sign in as a demo user, then today's appointments
// (medical organizations) or the open tenders (procurement), with the
// server's own localized messages on errors.
import { createHubClient, errorsOf } from "../src/client";
import { MeDocument, OpenTendersDocument, SignInDocument, TodayAppointmentsDocument } from "../src/gql/graphql";

const ROUTER_URL: string = import.meta.env.VITE_HUB_ROUTER_URL ?? "http://127.0.0.1:4000/";

const $ = <T extends HTMLElement>(selector: string) => {
  const el = document.querySelector<T>(selector);
  if (!el) throw new Error(`missing ${selector}`);
  return el;
};

let token: string | null = null;
let locale = "en";
// Operations go by the id the client computes from what it sends: the
// router's safelist (frontend-codegen/manifests) holds them.
const client = () => createHubClient({ url: ROUTER_URL, token: () => token, locale, name: "example-web" });

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function showError(el: HTMLElement, error: unknown) {
  el.textContent = errorsOf(error)
    .map((e) => e.message)
    .join(" ");
  el.hidden = false;
}

function today(): { from: string; to: string } {
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  const end = new Date(start);
  end.setDate(start.getDate() + 1);
  return { from: start.toISOString(), to: end.toISOString() };
}

async function loadAppointments() {
  const section = $("#appointments");
  const status = $('[data-testid="appointments-status"]');
  const rows = $('[data-testid="appointment-rows"]');
  section.hidden = false;
  status.className = "status";
  status.textContent = "Loading…";
  rows.replaceChildren();
  // errorPolicy "all": a field the caller may not read arrives as an error
  // beside the rest of the data.
  const { data, error } = await client().query({ query: TodayAppointmentsDocument, variables: today(), errorPolicy: "all" });
  const errors = errorsOf(error);
  if (!data) {
    status.className = "error";
    showError(status, error);
    return;
  }
  const nodes = data.appointments.nodes;
  status.textContent = nodes.length === 0 ? "No appointments today." : `${nodes.length} appointment(s).`;
  nodes.forEach((a, i) => {
    const tr = document.createElement("tr");
    tr.dataset.testid = "appointment";
    const time = new Date(a.startsAt).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
    const fieldError = errors.find(
      (e) => e.path?.[2] === i && e.path?.at(-1) === "bloodType",
    );
    tr.append(
      cell(time),
      cell(`${a.patient.givenName} ${a.patient.familyName}`),
      cell(a.practitioner.displayName),
      fieldError ? cell(fieldError.message, "field-error") : cell(a.patient.bloodType ?? "—"),
      cell(a.status),
    );
    rows.append(tr);
  });
}

async function loadTenders() {
  const section = $("#tenders");
  const status = $('[data-testid="tenders-status"]');
  const rows = $('[data-testid="tender-rows"]');
  section.hidden = false;
  status.className = "status";
  status.textContent = "Loading…";
  rows.replaceChildren();
  const { data, error } = await client().query({ query: OpenTendersDocument, variables: { first: 20 }, errorPolicy: "all" });
  if (!data) {
    status.className = "error";
    showError(status, error);
    return;
  }
  status.textContent = `${data.tenders.nodes.length} open tender(s).`;
  for (const t of data.tenders.nodes) {
    const tr = document.createElement("tr");
    tr.dataset.testid = "tender";
    tr.append(
      cell(t.reference),
      cell(t.title),
      cell(t.buyer.name),
      cell(new Date(t.submissionDeadline).toLocaleString(locale)),
      cell(String(t.bidCount)),
    );
    rows.append(tr);
  }
}

$<HTMLFormElement>("#sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  const errorEl = $('[data-testid="sign-in-error"]');
  const submit = $<HTMLButtonElement>('[data-testid="submit"]');
  errorEl.hidden = true;
  locale = String(form.get("locale") ?? "en");
  submit.disabled = true;
  submit.textContent = "Signing in…";
  try {
    const { data, error } = await client().mutate({
      mutation: SignInDocument,
      variables: {
        input: {
          organization: String(form.get("organization")),
          email: String(form.get("email")),
          password: String(form.get("password")),
        },
      },
      errorPolicy: "all",
    });
    if (!data?.login) {
      showError(errorEl, error);
      return;
    }
    token = data.login.accessToken;
    const me = await client().query({ query: MeDocument });
    const org = me.data?.currentOrganization;
    if (!org) {
      showError(errorEl, me.error);
      return;
    }
    $("#who").textContent = `${data.login.user.displayName} — ${org.name}`;
    $("#sign-in").hidden = true;
    $("#sign-out").hidden = false;
    const verticals = org.verticals;
    if (verticals.includes("MEDICAL")) await loadAppointments();
    if (verticals.includes("PUBLIC")) await loadTenders();
  } catch (error) {
    showError(errorEl, error);
  } finally {
    submit.disabled = false;
    submit.textContent = "Sign in";
  }
});

$("#sign-out").addEventListener("click", () => {
  token = null;
  $("#who").textContent = "";
  $("#sign-out").hidden = true;
  $("#sign-in").hidden = false;
  $("#appointments").hidden = true;
  $("#tenders").hidden = true;
});
