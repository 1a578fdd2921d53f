/** The proxy's own health, as the health-check node ports report it (kube-proxy's rule). */
import test from 'ava';
import { PROXY_HEALTH_TIMEOUT_MS, proxyHealthy } from '../../agent/proxy/proxy-health';

const NOW = 1_800_000_000_000;

test('healthy after a successful sync, and through failures shorter than the timeout', (t) => {
  t.true(proxyHealthy({ everSucceeded: true, lastError: '', lastSuccessUnixMs: NOW - 3_600_000 }, NOW), 'no sync needed for an hour is fine');
  t.true(proxyHealthy({ everSucceeded: true, lastError: 'nft refused', lastSuccessUnixMs: NOW - PROXY_HEALTH_TIMEOUT_MS + 1 }, NOW));
});

test('unhealthy before the first success, and once failures outlast the timeout', (t) => {
  t.false(proxyHealthy({ everSucceeded: false, lastError: '', lastSuccessUnixMs: 0 }, NOW));
  t.false(proxyHealthy({ everSucceeded: true, lastError: 'nft refused', lastSuccessUnixMs: NOW - PROXY_HEALTH_TIMEOUT_MS - 1 }, NOW));
});
