// The example page: sign in as a demo user (or join through an invitation
// link, `/accept-invite?token=…`), then the user's notifications and today's
// appointments (medical organizations) or the open tenders (procurement).
// The page speaks the browser's language until the user picks one (en, fr,
// de); the server's messages come in that language too.
import { createHubClient, errorsOf } from "../src/client";
import {
  AcceptInviteDocument,
  MarkNotificationsReadDocument,
  MeDocument,
  NotificationsDocument,
  OpenTendersDocument,
  SignInDocument,
  SignOutDocument,
  TodayAppointmentsDocument,
} from "../src/gql/graphql";
import { initialLocale, LABELS, type Labels, type Locale } from "./labels";

const ROUTER_URL: string = import.meta.env.VITE_HUB_ROUTER_URL ?? "http://127.0.0.1:4000/";
const LOCALE_KEY = "hub.example.locale";

type GraphQLErrorLike = { code?: string; message: string; path?: readonly (string | number)[] };

const $ = <T extends HTMLElement>(selector: string) => {
  const el = document.querySelector<T>(selector);
  if (!el) throw new Error(`missing ${selector}`);
  return el;
};

let token: string | null = null;
let locale: Locale = initialLocale(localStorage.getItem(LOCALE_KEY), navigator.languages ?? [navigator.language]);
const t = (): Labels => LABELS[locale];
// Operations go by the id the client computes from what it sends: the
// router's safelist (frontend-codegen/manifests) holds them.
const client = () => createHubClient({ url: ROUTER_URL, token: () => token, locale, name: "example-web" });

/** Puts the page's own words in the current language. */
function applyLabels() {
  document.documentElement.lang = locale;
  $<HTMLSelectElement>('[data-testid="locale"]').value = locale;
  const labels = t() as unknown as Record<string, unknown>;
  for (const el of document.querySelectorAll<HTMLElement>("[data-i18n]")) {
    const text = labels[el.dataset.i18n!];
    if (typeof text === "string") el.textContent = text;
  }
  for (const el of document.querySelectorAll<HTMLElement>("[data-i18n-label]")) {
    const text = labels[el.dataset.i18nLabel!];
    if (typeof text === "string") el.setAttribute("label", text);
  }
}

function cell(label: string, text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.dataset.label = label;
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/**
 * A field the caller could not get: a short marker, the server's message
 * on hover (and for screen readers). `restricted` when the role may not
 * read it, `unavailable` when a service did not answer.
 */
function missingCell(label: string, error: GraphQLErrorLike): HTMLTableCellElement {
  const td = cell(label, "", "field-error");
  const marker = document.createElement("span");
  marker.className = "restricted";
  marker.dataset.testid = "field-error";
  marker.textContent = error.code === "FORBIDDEN" ? t().restricted : t().unavailable;
  marker.title = error.message;
  marker.setAttribute("aria-label", `${marker.textContent}: ${error.message}`);
  td.append(marker);
  return td;
}

function showError(el: HTMLElement, error: unknown) {
  el.textContent = errorsOf(error)
    .map((e) => e.message)
    .join(" ");
  el.hidden = false;
}

const time = (iso: string) => new Date(iso).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
const dateTime = (iso: string) => new Date(iso).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });

function today(): { from: string; to: string } {
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  const end = new Date(start);
  end.setDate(start.getDate() + 1);
  return { from: start.toISOString(), to: end.toISOString() };
}

/** "Loading…" on a section's status line, its rows (`rowsId`) cleared. */
function loading(section: string, rowsId: string): { status: HTMLElement; rows: HTMLElement } {
  $(`#${section}`).hidden = false;
  const status = $(`[data-testid="${section}-status"]`);
  status.className = "status";
  status.textContent = t().loading;
  const rows = $(`[data-testid="${rowsId}"]`);
  rows.replaceChildren();
  return { status, rows };
}

/** A query answered with no data: its error, or the fact that none came. */
function noData(status: HTMLElement, error: unknown) {
  status.className = "error";
  if (errorsOf(error).length > 0) showError(status, error);
  else status.textContent = t().empty;
}

async function loadAppointments() {
  const { status, rows } = loading("appointments", "appointment-rows");
  // errorPolicy "all": a field the caller may not read arrives as an error
  // beside the rest of the data.
  const { data, error } = await client().query({ query: TodayAppointmentsDocument, variables: today(), errorPolicy: "all" });
  const errors = errorsOf(error);
  if (!data) return noData(status, error);
  const nodes = data.appointments.nodes;
  showCount(status, errors, nodes.length === 0 ? t().noAppointments : t().appointments(nodes.length));
  const l = t();
  nodes.forEach((a, i) => {
    const tr = document.createElement("tr");
    tr.dataset.testid = "appointment";
    const fieldError = (field: string) => errors.find((e) => e.path?.[2] === i && e.path?.includes(field));
    const bloodError = fieldError("bloodType");
    // A practitioner's name comes from identity: if it could not be read,
    // the row still shows, with why.
    const practitionerError = fieldError("practitioner");
    tr.append(
      cell(l.time, time(a.startsAt)),
      cell(l.patient, `${a.patient.givenName} ${a.patient.familyName}`),
      a.practitioner
        ? cell(l.practitioner, a.practitioner.displayName)
        : practitionerError
          ? missingCell(l.practitioner, practitionerError)
          : cell(l.practitioner, "—"),
      bloodError ? missingCell(l.bloodType, bloodError) : cell(l.bloodType, a.patient.bloodType ?? "—"),
      cell(l.status, l.statuses[a.status] ?? a.status),
    );
    rows.append(tr);
  });
}

/** The count, and, for a partial answer, which parts are missing and why. */
function showCount(status: HTMLElement, errors: GraphQLErrorLike[], text: string) {
  // Fields a role may not read are marked in their cells; anything else
  // missing makes the answer partial, and the page says so.
  const missing = errors.filter((e) => e.code !== "FORBIDDEN");
  if (missing.length === 0) {
    status.className = "status";
    status.textContent = text;
    return;
  }
  status.className = "status partial";
  const reasons = [...new Set(missing.map((e) => e.message))].join(" ");
  status.textContent = `${text} ${t().partial} ${reasons}`;
}

async function loadNotifications() {
  const { status, rows: items } = loading("notifications", "notification-items");
  const { data, error } = await client().query({
    query: NotificationsDocument,
    variables: { first: 10 },
    fetchPolicy: "network-only",
  });
  if (!data) return noData(status, error);
  const unread = data.notifications.nodes.filter((n) => !n.readAt).length;
  status.textContent = data.notifications.nodes.length === 0 ? t().noNotifications : t().unread(unread);
  items.replaceChildren(
    ...data.notifications.nodes.map((n) => {
      const li = document.createElement("li");
      li.dataset.testid = "notification";
      li.className = n.readAt ? "read" : "unread";
      li.textContent = `${dateTime(n.createdAt)} — ${n.message}`;
      return li;
    }),
  );
}

async function loadTenders() {
  const { status, rows } = loading("tenders", "tender-rows");
  const { data, error } = await client().query({ query: OpenTendersDocument, variables: { first: 20 }, errorPolicy: "all" });
  if (!data) return noData(status, error);
  const l = t();
  showCount(status, errorsOf(error), l.tenders(data.tenders.nodes.length));
  for (const tender of data.tenders.nodes) {
    const tr = document.createElement("tr");
    tr.dataset.testid = "tender";
    tr.append(
      cell(l.reference, tender.reference),
      cell(l.tenderTitle, tender.title),
      cell(l.buyer, tender.buyer?.name ?? "—"),
      cell(l.deadline, dateTime(tender.submissionDeadline)),
      cell(l.bids, tender.bidCount.toLocaleString(locale)),
    );
    rows.append(tr);
  }
}

let verticals: readonly string[] = [];

/** What the organization's verticals show, in the current language. */
async function loadSections() {
  await loadNotifications();
  if (verticals.includes("MEDICAL")) await loadAppointments();
  if (verticals.includes("PUBLIC")) await loadTenders();
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
  verticals = org.verticals;
  await loadSections();
}

$<HTMLButtonElement>("#refresh-appointments").addEventListener("click", () => void loadAppointments());

$<HTMLSelectElement>('[data-testid="locale"]').addEventListener("change", (event) => {
  locale = initialLocale((event.target as HTMLSelectElement).value, []);
  localStorage.setItem(LOCALE_KEY, locale);
  applyLabels();
  // Statuses, dates and the server's messages are in the old language: ask again.
  if (token) void loadSections();
});

$<HTMLFormElement>("#sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  const errorEl = $('[data-testid="sign-in-error"]');
  const submit = $<HTMLButtonElement>('[data-testid="submit"]');
  errorEl.hidden = true;
  submit.disabled = true;
  submit.textContent = t().signingIn;
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
    submit.textContent = t().signIn;
  }
});

// An invitation link from the mail: `/accept-invite?token=…`.
const inviteToken = location.pathname === "/accept-invite" ? new URLSearchParams(location.search).get("token") : null;
if (inviteToken) {
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

$("#sign-out").addEventListener("click", async () => {
  // The session ends at the server (every service refuses the token from
  // now on), not only in this tab. Already ended or unreachable: the page
  // forgets the token all the same.
  await client()
    .mutate({ mutation: SignOutDocument })
    .catch(() => undefined);
  token = null;
  verticals = [];
  $("#who").textContent = "";
  $("#sign-out").hidden = true;
  $<HTMLInputElement>('[data-testid="password"]').value = "";
  $('[data-testid="sign-in-error"]').hidden = true;
  $("#sign-in").hidden = false;
  for (const section of ["appointments", "tenders", "notifications"]) $(`#${section}`).hidden = true;
  for (const rows of ["appointment-rows", "tender-rows", "notification-items"]) $(`[data-testid="${rows}"]`).replaceChildren();
});

applyLabels();
