// The example page: sign in as a demo user (or join through an invitation
// link, `/accept-invite?token=…`), then the user's notifications and today's
// appointments (medical organizations) or the open tenders (procurement),
// with the server's own localized messages on errors.
import { createHubClient, errorsOf } from "../src/client";
import {
  AcceptInviteDocument,
  MarkNotificationsReadDocument,
  MeDocument,
  NotificationsDocument,
  OpenTendersDocument,
  SignInDocument,
  TodayAppointmentsDocument,
} from "../src/gql/graphql";

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
  showCount(status, errors, nodes.length === 0 ? "No appointments today." : `${nodes.length} appointment(s).`);
  nodes.forEach((a, i) => {
    const tr = document.createElement("tr");
    tr.dataset.testid = "appointment";
    const time = new Date(a.startsAt).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
    const fieldError = (field: string) => errors.find((e) => e.path?.[2] === i && e.path?.includes(field));
    const bloodError = fieldError("bloodType");
    // A practitioner's name comes from identity: if it could not be read,
    // the row still shows, with why.
    const practitionerError = fieldError("practitioner");
    tr.append(
      cell(time),
      cell(`${a.patient.givenName} ${a.patient.familyName}`),
      a.practitioner
        ? cell(a.practitioner.displayName)
        : cell(practitionerError?.message ?? "—", practitionerError ? "field-error" : undefined),
      bloodError ? cell(bloodError.message, "field-error") : cell(a.patient.bloodType ?? "—"),
      cell(a.status),
    );
    rows.append(tr);
  });
}

/** The count, and, for a partial answer, which parts are missing and why. */
function showCount(status: HTMLElement, errors: { message: string; path?: readonly (string | number)[] }[], text: string) {
  // Fields a role may not read are shown in their cells; anything else
  // missing makes the answer partial, and the page says so.
  const missing = errors.filter((e) => e.path?.at(-1) !== "bloodType");
  if (missing.length === 0) {
    status.className = "status";
    status.textContent = text;
    return;
  }
  status.className = "status partial";
  const reasons = [...new Set(missing.map((e) => e.message))].join(" ");
  status.textContent = `${text} Partial answer: some details could not be loaded — ${reasons}`;
}

async function loadNotifications() {
  const section = $("#notifications");
  const status = $('[data-testid="notifications-status"]');
  const items = $('[data-testid="notification-items"]');
  section.hidden = false;
  status.className = "status";
  status.textContent = "Loading…";
  const { data, error } = await client().query({
    query: NotificationsDocument,
    variables: { first: 10 },
    fetchPolicy: "network-only",
  });
  if (!data) {
    status.className = "error";
    showError(status, error);
    return;
  }
  const unread = data.notifications.nodes.filter((n) => !n.readAt).length;
  status.textContent = data.notifications.nodes.length === 0 ? "No notifications." : `${unread} unread.`;
  items.replaceChildren(
    ...data.notifications.nodes.map((n) => {
      const li = document.createElement("li");
      li.dataset.testid = "notification";
      li.className = n.readAt ? "read" : "unread";
      li.textContent = n.message;
      return li;
    }),
  );
}

/** Signed in with `accessToken`: who, then what the organization's verticals show. */
async function enter(accessToken: string, displayName: string, errorEl: HTMLElement) {
  token = accessToken;
  const me = await client().query({ query: MeDocument });
  const org = me.data?.currentOrganization;
  if (!org) {
    showError(errorEl, me.error);
    return;
  }
  $("#who").textContent = `${displayName} — ${org.name}`;
  $("#sign-in").hidden = true;
  $("#accept-invite").hidden = true;
  $("#sign-out").hidden = false;
  await loadNotifications();
  const verticals = org.verticals;
  if (verticals.includes("MEDICAL")) await loadAppointments();
  if (verticals.includes("PUBLIC")) await loadTenders();
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
  showCount(status, errorsOf(error), `${data.tenders.nodes.length} open tender(s).`);
  for (const t of data.tenders.nodes) {
    const tr = document.createElement("tr");
    tr.dataset.testid = "tender";
    tr.append(
      cell(t.reference),
      cell(t.title),
      cell(t.buyer?.name ?? "—"),
      cell(new Date(t.submissionDeadline).toLocaleString(locale)),
      cell(String(t.bidCount)),
    );
    rows.append(tr);
  }
}

$<HTMLButtonElement>("#refresh-appointments").addEventListener("click", () => void loadAppointments());

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
    await enter(data.login.accessToken, data.login.user.displayName, errorEl);
  } catch (error) {
    showError(errorEl, error);
  } finally {
    submit.disabled = false;
    submit.textContent = "Sign in";
  }
});

// An invitation link from the mail: `/accept-invite?token=…`.
const inviteToken = location.pathname === "/accept-invite" ? new URLSearchParams(location.search).get("token") : null;
if (inviteToken) {
  locale = navigator.language.slice(0, 2);
  $("#sign-in").hidden = true;
  $("#accept-invite").hidden = false;
}

$<HTMLFormElement>("#accept-invite").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  const errorEl = $('[data-testid="accept-error"]');
  errorEl.hidden = true;
  try {
    const { data, error } = await client().mutate({
      mutation: AcceptInviteDocument,
      variables: {
        input: {
          token: inviteToken ?? "",
          displayName: String(form.get("displayName") ?? "") || null,
          password: String(form.get("password")),
        },
      },
      errorPolicy: "all",
    });
    if (!data?.acceptInvite) {
      showError(errorEl, error);
      return;
    }
    history.replaceState(null, "", "/");
    await enter(data.acceptInvite.accessToken, data.acceptInvite.user.displayName, errorEl);
  } catch (error) {
    showError(errorEl, error);
  }
});

$("#mark-read").addEventListener("click", async () => {
  await client().mutate({ mutation: MarkNotificationsReadDocument, variables: { all: true } });
  await loadNotifications();
});

$("#sign-out").addEventListener("click", () => {
  token = null;
  $("#who").textContent = "";
  $("#sign-out").hidden = true;
  $("#sign-in").hidden = false;
  $("#appointments").hidden = true;
  $("#tenders").hidden = true;
  $("#notifications").hidden = true;
});
