// Where the running platform is: `hub up`'s ports by default; the Rust e2e
// test that runs `npm test` passes its own.
export const ROUTER_URL = process.env.HUB_ROUTER_URL ?? "http://127.0.0.1:4000/";
export const TOKEN_URL = process.env.HUB_TOKEN_URL ?? "http://127.0.0.1:4001/oauth/token";
export const DEMO_PASSWORD = process.env.HUB_DEMO_PASSWORD ?? "hub-demo-password";

/** Monday 00:00 UTC of this week, and a week later: the seeded appointments. */
export function thisWeek(): { from: string; to: string } {
  const now = new Date();
  const monday = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  monday.setUTCDate(monday.getUTCDate() - ((monday.getUTCDay() + 6) % 7));
  const next = new Date(monday);
  next.setUTCDate(monday.getUTCDate() + 7);
  return { from: monday.toISOString(), to: next.toISOString() };
}
