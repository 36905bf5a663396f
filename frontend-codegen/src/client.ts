// The Apollo Client every Hub frontend uses: bearer token, the caller's
// language, and persisted operations (the router's safelist) — by the id the
// client computes from the exact body it would send, or by the ids of a
// client's manifest (what a partner ships).
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import {
  generatePersistedQueryIdsAtRuntime,
  generatePersistedQueryIdsFromManifest,
  type PersistedQueryManifestForGeneratingPersistedQueryIds,
} from "@apollo/persisted-query-lists";

export type Persisted =
  /** Send operation bodies (first-party, where the router allows ad-hoc operations). */
  | "off"
  /** Send the SHA-256 of each operation's printed body, never the body. */
  | "runtime"
  /** Send the ids listed in this manifest, never the body. */
  | PersistedQueryManifestForGeneratingPersistedQueryIds;

export interface HubClientOptions {
  /** The router, e.g. `http://127.0.0.1:4000/`. */
  url: string;
  /** The access token to send, if signed in. */
  token?: () => string | null | undefined;
  persisted?: Persisted;
  /** `Accept-Language`: the language of error messages (en, fr, de). */
  locale?: string;
  /** Reported to the router as `apollographql-client-name`. */
  name?: string;
  fetch?: typeof fetch;
}

export async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function createHubClient(options: HubClientOptions): ApolloClient {
  const headers = new SetContextLink((previous) => {
    const token = options.token?.();
    return {
      headers: {
        ...previous.headers,
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(options.locale ? { "accept-language": options.locale } : {}),
      },
    };
  });
  const links: ApolloLink[] = [headers];
  const persisted = options.persisted ?? "runtime";
  if (persisted === "runtime") {
    links.push(new PersistedQueryLink(generatePersistedQueryIdsAtRuntime({ sha256 })));
  } else if (persisted !== "off") {
    links.push(new PersistedQueryLink(generatePersistedQueryIdsFromManifest({ loadManifest: () => persisted })));
  }
  links.push(new HttpLink({ uri: options.url, fetch: options.fetch }));
  return new ApolloClient({
    link: ApolloLink.from(links),
    cache: new InMemoryCache(),
    clientAwareness: options.name ? { name: options.name } : undefined,
    defaultOptions: { query: { fetchPolicy: "no-cache" }, watchQuery: { fetchPolicy: "no-cache" } },
  });
}

/** The error codes and messages of a failed request, whatever layer failed. */
export function errorsOf(error: unknown): { code?: string; message: string; path?: readonly (string | number)[] }[] {
  if (!error) return [];
  const e = error as {
    errors?: readonly { message: string; extensions?: { code?: unknown }; path?: readonly (string | number)[] }[];
    bodyText?: string;
    message?: string;
  };
  if (e.errors) {
    return e.errors.map((x) => ({ code: x.extensions?.code as string | undefined, message: x.message, path: x.path }));
  }
  // A non-2xx answer (the edge's rejections) carries a GraphQL body.
  if (e.bodyText) {
    try {
      const body = JSON.parse(e.bodyText) as { errors?: { message: string; extensions?: { code?: string } }[] };
      if (body.errors) return body.errors.map((x) => ({ code: x.extensions?.code, message: x.message }));
    } catch {
      // not JSON: fall through
    }
  }
  return [{ message: e.message ?? String(error) }];
}
