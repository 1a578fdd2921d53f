/**
 * The environment for Node.js children the lab, tests and benchmarks start (agents, pod
 * servers, probes, weftctl): without this machine's extra CA bundle, which every Node.js start
 * would otherwise parse (~40-90 ms) and none of them needs.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}
