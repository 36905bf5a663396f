/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query Appointments($from: DateTime, $to: DateTime, $first: Int, $after: String) {\n  appointments(from: $from, to: $to, first: $first, after: $after) {\n    edges {\n      node {\n        id\n        startsAt\n        status\n        patient {\n          familyName\n        }\n        practitioner {\n          displayName\n        }\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": typeof types.AppointmentsDocument,
    "mutation BookAppointment($input: ScheduleAppointmentInput!) {\n  scheduleAppointment(input: $input) {\n    id\n    startsAt\n    status\n  }\n}": typeof types.BookAppointmentDocument,
    "query MySchedule($from: DateTime!, $to: DateTime!) {\n  me {\n    id\n    displayName\n    schedule(from: $from, to: $to) {\n      id\n      startsAt\n      endsAt\n      status\n      patient {\n        givenName\n        familyName\n      }\n    }\n  }\n}": typeof types.MyScheduleDocument,
    "query Patients($search: String, $first: Int) {\n  patients(search: $search, first: $first) {\n    nodes {\n      id\n      mrn\n      givenName\n      familyName\n    }\n  }\n}": typeof types.PatientsDocument,
    "query TodayAppointments($from: DateTime!, $to: DateTime!) {\n  appointments(from: $from, to: $to, first: 50) {\n    nodes {\n      id\n      startsAt\n      endsAt\n      status\n      reason\n      patient {\n        id\n        givenName\n        familyName\n        bloodType\n      }\n      practitioner {\n        id\n        displayName\n      }\n    }\n  }\n}": typeof types.TodayAppointmentsDocument,
    "query PartnerAppointments($from: DateTime, $to: DateTime, $first: Int, $after: String) {\n  appointments(from: $from, to: $to, first: $first, after: $after) {\n    nodes {\n      id\n      startsAt\n      endsAt\n      status\n      patient {\n        id\n        givenName\n        familyName\n      }\n      practitioner {\n        id\n        displayName\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": typeof types.PartnerAppointmentsDocument,
    "query PartnerInvoices($status: InvoiceStatus, $first: Int, $after: String) {\n  invoices(status: $status, first: $first, after: $after) {\n    nodes {\n      id\n      status\n      currency\n      totalCents\n      issuedAt\n      paidAt\n      patient {\n        id\n        givenName\n        familyName\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": typeof types.PartnerInvoicesDocument,
    "query OpenTenders($first: Int, $after: String) {\n  tenders(status: PUBLISHED, first: $first, after: $after) {\n    nodes {\n      id\n      reference\n      title\n      submissionDeadline\n      estimatedValue {\n        amount\n        currency\n      }\n      buyer {\n        id\n        name\n      }\n      bidCount\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": typeof types.OpenTendersDocument,
    "mutation AcceptInvite($input: AcceptInviteInput!) {\n  acceptInvite(input: $input) {\n    accessToken\n    user {\n      id\n      displayName\n    }\n  }\n}": typeof types.AcceptInviteDocument,
    "mutation MarkNotificationsRead($ids: [ID!], $all: Boolean) {\n  markNotificationsRead(ids: $ids, all: $all)\n}": typeof types.MarkNotificationsReadDocument,
    "query Me {\n  me {\n    id\n    email\n    displayName\n    roles\n  }\n  currentOrganization {\n    id\n    name\n    verticals\n  }\n}": typeof types.MeDocument,
    "query Notifications($first: Int, $unreadOnly: Boolean) {\n  notifications(first: $first, unreadOnly: $unreadOnly) {\n    nodes {\n      id\n      kind\n      message\n      createdAt\n      readAt\n    }\n  }\n}": typeof types.NotificationsDocument,
    "mutation SignIn($input: LoginInput!) {\n  login(input: $input) {\n    accessToken\n    expiresAt\n    user {\n      id\n      displayName\n    }\n  }\n}": typeof types.SignInDocument,
    "mutation SignOut {\n  logout\n}": typeof types.SignOutDocument,
};
const documents: Documents = {
    "query Appointments($from: DateTime, $to: DateTime, $first: Int, $after: String) {\n  appointments(from: $from, to: $to, first: $first, after: $after) {\n    edges {\n      node {\n        id\n        startsAt\n        status\n        patient {\n          familyName\n        }\n        practitioner {\n          displayName\n        }\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": types.AppointmentsDocument,
    "mutation BookAppointment($input: ScheduleAppointmentInput!) {\n  scheduleAppointment(input: $input) {\n    id\n    startsAt\n    status\n  }\n}": types.BookAppointmentDocument,
    "query MySchedule($from: DateTime!, $to: DateTime!) {\n  me {\n    id\n    displayName\n    schedule(from: $from, to: $to) {\n      id\n      startsAt\n      endsAt\n      status\n      patient {\n        givenName\n        familyName\n      }\n    }\n  }\n}": types.MyScheduleDocument,
    "query Patients($search: String, $first: Int) {\n  patients(search: $search, first: $first) {\n    nodes {\n      id\n      mrn\n      givenName\n      familyName\n    }\n  }\n}": types.PatientsDocument,
    "query TodayAppointments($from: DateTime!, $to: DateTime!) {\n  appointments(from: $from, to: $to, first: 50) {\n    nodes {\n      id\n      startsAt\n      endsAt\n      status\n      reason\n      patient {\n        id\n        givenName\n        familyName\n        bloodType\n      }\n      practitioner {\n        id\n        displayName\n      }\n    }\n  }\n}": types.TodayAppointmentsDocument,
    "query PartnerAppointments($from: DateTime, $to: DateTime, $first: Int, $after: String) {\n  appointments(from: $from, to: $to, first: $first, after: $after) {\n    nodes {\n      id\n      startsAt\n      endsAt\n      status\n      patient {\n        id\n        givenName\n        familyName\n      }\n      practitioner {\n        id\n        displayName\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": types.PartnerAppointmentsDocument,
    "query PartnerInvoices($status: InvoiceStatus, $first: Int, $after: String) {\n  invoices(status: $status, first: $first, after: $after) {\n    nodes {\n      id\n      status\n      currency\n      totalCents\n      issuedAt\n      paidAt\n      patient {\n        id\n        givenName\n        familyName\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": types.PartnerInvoicesDocument,
    "query OpenTenders($first: Int, $after: String) {\n  tenders(status: PUBLISHED, first: $first, after: $after) {\n    nodes {\n      id\n      reference\n      title\n      submissionDeadline\n      estimatedValue {\n        amount\n        currency\n      }\n      buyer {\n        id\n        name\n      }\n      bidCount\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": types.OpenTendersDocument,
    "mutation AcceptInvite($input: AcceptInviteInput!) {\n  acceptInvite(input: $input) {\n    accessToken\n    user {\n      id\n      displayName\n    }\n  }\n}": types.AcceptInviteDocument,
    "mutation MarkNotificationsRead($ids: [ID!], $all: Boolean) {\n  markNotificationsRead(ids: $ids, all: $all)\n}": types.MarkNotificationsReadDocument,
    "query Me {\n  me {\n    id\n    email\n    displayName\n    roles\n  }\n  currentOrganization {\n    id\n    name\n    verticals\n  }\n}": types.MeDocument,
    "query Notifications($first: Int, $unreadOnly: Boolean) {\n  notifications(first: $first, unreadOnly: $unreadOnly) {\n    nodes {\n      id\n      kind\n      message\n      createdAt\n      readAt\n    }\n  }\n}": types.NotificationsDocument,
    "mutation SignIn($input: LoginInput!) {\n  login(input: $input) {\n    accessToken\n    expiresAt\n    user {\n      id\n      displayName\n    }\n  }\n}": types.SignInDocument,
    "mutation SignOut {\n  logout\n}": types.SignOutDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Appointments($from: DateTime, $to: DateTime, $first: Int, $after: String) {\n  appointments(from: $from, to: $to, first: $first, after: $after) {\n    edges {\n      node {\n        id\n        startsAt\n        status\n        patient {\n          familyName\n        }\n        practitioner {\n          displayName\n        }\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"): (typeof documents)["query Appointments($from: DateTime, $to: DateTime, $first: Int, $after: String) {\n  appointments(from: $from, to: $to, first: $first, after: $after) {\n    edges {\n      node {\n        id\n        startsAt\n        status\n        patient {\n          familyName\n        }\n        practitioner {\n          displayName\n        }\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation BookAppointment($input: ScheduleAppointmentInput!) {\n  scheduleAppointment(input: $input) {\n    id\n    startsAt\n    status\n  }\n}"): (typeof documents)["mutation BookAppointment($input: ScheduleAppointmentInput!) {\n  scheduleAppointment(input: $input) {\n    id\n    startsAt\n    status\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query MySchedule($from: DateTime!, $to: DateTime!) {\n  me {\n    id\n    displayName\n    schedule(from: $from, to: $to) {\n      id\n      startsAt\n      endsAt\n      status\n      patient {\n        givenName\n        familyName\n      }\n    }\n  }\n}"): (typeof documents)["query MySchedule($from: DateTime!, $to: DateTime!) {\n  me {\n    id\n    displayName\n    schedule(from: $from, to: $to) {\n      id\n      startsAt\n      endsAt\n      status\n      patient {\n        givenName\n        familyName\n      }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Patients($search: String, $first: Int) {\n  patients(search: $search, first: $first) {\n    nodes {\n      id\n      mrn\n      givenName\n      familyName\n    }\n  }\n}"): (typeof documents)["query Patients($search: String, $first: Int) {\n  patients(search: $search, first: $first) {\n    nodes {\n      id\n      mrn\n      givenName\n      familyName\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query TodayAppointments($from: DateTime!, $to: DateTime!) {\n  appointments(from: $from, to: $to, first: 50) {\n    nodes {\n      id\n      startsAt\n      endsAt\n      status\n      reason\n      patient {\n        id\n        givenName\n        familyName\n        bloodType\n      }\n      practitioner {\n        id\n        displayName\n      }\n    }\n  }\n}"): (typeof documents)["query TodayAppointments($from: DateTime!, $to: DateTime!) {\n  appointments(from: $from, to: $to, first: 50) {\n    nodes {\n      id\n      startsAt\n      endsAt\n      status\n      reason\n      patient {\n        id\n        givenName\n        familyName\n        bloodType\n      }\n      practitioner {\n        id\n        displayName\n      }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query PartnerAppointments($from: DateTime, $to: DateTime, $first: Int, $after: String) {\n  appointments(from: $from, to: $to, first: $first, after: $after) {\n    nodes {\n      id\n      startsAt\n      endsAt\n      status\n      patient {\n        id\n        givenName\n        familyName\n      }\n      practitioner {\n        id\n        displayName\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"): (typeof documents)["query PartnerAppointments($from: DateTime, $to: DateTime, $first: Int, $after: String) {\n  appointments(from: $from, to: $to, first: $first, after: $after) {\n    nodes {\n      id\n      startsAt\n      endsAt\n      status\n      patient {\n        id\n        givenName\n        familyName\n      }\n      practitioner {\n        id\n        displayName\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query PartnerInvoices($status: InvoiceStatus, $first: Int, $after: String) {\n  invoices(status: $status, first: $first, after: $after) {\n    nodes {\n      id\n      status\n      currency\n      totalCents\n      issuedAt\n      paidAt\n      patient {\n        id\n        givenName\n        familyName\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"): (typeof documents)["query PartnerInvoices($status: InvoiceStatus, $first: Int, $after: String) {\n  invoices(status: $status, first: $first, after: $after) {\n    nodes {\n      id\n      status\n      currency\n      totalCents\n      issuedAt\n      paidAt\n      patient {\n        id\n        givenName\n        familyName\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query OpenTenders($first: Int, $after: String) {\n  tenders(status: PUBLISHED, first: $first, after: $after) {\n    nodes {\n      id\n      reference\n      title\n      submissionDeadline\n      estimatedValue {\n        amount\n        currency\n      }\n      buyer {\n        id\n        name\n      }\n      bidCount\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"): (typeof documents)["query OpenTenders($first: Int, $after: String) {\n  tenders(status: PUBLISHED, first: $first, after: $after) {\n    nodes {\n      id\n      reference\n      title\n      submissionDeadline\n      estimatedValue {\n        amount\n        currency\n      }\n      buyer {\n        id\n        name\n      }\n      bidCount\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AcceptInvite($input: AcceptInviteInput!) {\n  acceptInvite(input: $input) {\n    accessToken\n    user {\n      id\n      displayName\n    }\n  }\n}"): (typeof documents)["mutation AcceptInvite($input: AcceptInviteInput!) {\n  acceptInvite(input: $input) {\n    accessToken\n    user {\n      id\n      displayName\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation MarkNotificationsRead($ids: [ID!], $all: Boolean) {\n  markNotificationsRead(ids: $ids, all: $all)\n}"): (typeof documents)["mutation MarkNotificationsRead($ids: [ID!], $all: Boolean) {\n  markNotificationsRead(ids: $ids, all: $all)\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Me {\n  me {\n    id\n    email\n    displayName\n    roles\n  }\n  currentOrganization {\n    id\n    name\n    verticals\n  }\n}"): (typeof documents)["query Me {\n  me {\n    id\n    email\n    displayName\n    roles\n  }\n  currentOrganization {\n    id\n    name\n    verticals\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Notifications($first: Int, $unreadOnly: Boolean) {\n  notifications(first: $first, unreadOnly: $unreadOnly) {\n    nodes {\n      id\n      kind\n      message\n      createdAt\n      readAt\n    }\n  }\n}"): (typeof documents)["query Notifications($first: Int, $unreadOnly: Boolean) {\n  notifications(first: $first, unreadOnly: $unreadOnly) {\n    nodes {\n      id\n      kind\n      message\n      createdAt\n      readAt\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SignIn($input: LoginInput!) {\n  login(input: $input) {\n    accessToken\n    expiresAt\n    user {\n      id\n      displayName\n    }\n  }\n}"): (typeof documents)["mutation SignIn($input: LoginInput!) {\n  login(input: $input) {\n    accessToken\n    expiresAt\n    user {\n      id\n      displayName\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SignOut {\n  logout\n}"): (typeof documents)["mutation SignOut {\n  logout\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;