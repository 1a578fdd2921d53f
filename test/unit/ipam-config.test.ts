import test, { type ExecutionContext } from 'ava';
import { CniError, ErrorCode, type NetConf } from '../../cni/types';
import { formatAddress } from '../../ipam/address';
import { DEFAULT_DATA_DIR, parseIpamConfig, requestedAddresses } from '../../ipam/config';
import { rangeSetToString } from '../../ipam/rangeset';

const conf = (ipam: Record<string, unknown> | undefined, extra: Partial<NetConf> = {}): NetConf => ({
  cniVersion: '1.1.0',
  name: 'net1',
  type: 'bridge',
  ...(ipam ? { ipam: { type: 'weft-ipam', ...ipam } } : {}),
  ...extra,
});

function configError(t: ExecutionContext, netConf: NetConf, message: string | RegExp): void {
  const err = t.throws(() => parseIpamConfig(netConf), { instanceOf: CniError }) as CniError;
  t.is(err.code, ErrorCode.InvalidNetworkConfig, err.message);
  if (typeof message === 'string') t.is(err.message, message);
  else t.regex(err.message, message);
}

test('a dual-stack ranges config with defaults', (t) => {
  const parsed = parseIpamConfig(conf({ ranges: [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00:10:244:1::/64' }]] }));
  t.is(parsed.network, 'net1');
  t.is(parsed.dataDir, DEFAULT_DATA_DIR);
  t.is(parsed.dataDir, '/var/lib/cni/networks');
  t.deepEqual(parsed.rangeSets.map(rangeSetToString), ['10.244.1.1-10.244.1.254', 'fd00:10:244:1::1-fd00:10:244:1:ffff:ffff:ffff:ffff']);
  t.deepEqual(parsed.routes, []);
  t.is(parsed.resolvConf, undefined);
});

test('explicit start, end, gateway, routes, dataDir and resolvConf are kept', (t) => {
  const parsed = parseIpamConfig(
    conf({
      ranges: [[{ subnet: '10.0.0.0/24', rangeStart: '10.0.0.10', rangeEnd: '10.0.0.20', gateway: '10.0.0.254' }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.0.0/16', gw: '10.0.0.254', priority: 5 }],
      dataDir: '/tmp/x',
      resolvConf: '/etc/resolv.conf',
    }),
  );
  t.is(rangeSetToString(parsed.rangeSets[0]), '10.0.0.10-10.0.0.20');
  t.is(formatAddress(parsed.rangeSets[0][0].gateway), '10.0.0.254');
  t.deepEqual(parsed.routes, [{ dst: '0.0.0.0/0' }, { dst: '192.168.0.0/16', gw: '10.0.0.254', priority: 5 }]);
  t.is(parsed.dataDir, '/tmp/x');
  t.is(parsed.resolvConf, '/etc/resolv.conf');
});

test('legacy single-range keys become range set 0, before ranges; runtime ipRanges come first', (t) => {
  const parsed = parseIpamConfig(
    conf(
      { subnet: '10.1.0.0/24', rangeStart: '10.1.0.100', gateway: '10.1.0.254', ranges: [[{ subnet: 'fd00::/64' }]] },
      { runtimeConfig: { ipRanges: [[{ subnet: '10.2.0.0/16' }]] } },
    ),
  );
  t.deepEqual(parsed.rangeSets.map(rangeSetToString), ['10.2.0.1-10.2.255.254', '10.1.0.100-10.1.0.254', 'fd00::1-fd00::ffff:ffff:ffff:ffff']);
  t.is(formatAddress(parsed.rangeSets[1][0].gateway), '10.1.0.254');
});

test('configuration errors are code 7 with host-local\'s wording', (t) => {
  configError(t, conf(undefined), "IPAM config missing 'ipam' key");
  configError(t, conf({}), 'no IP ranges specified');
  configError(t, conf({ ranges: [] }), 'no IP ranges specified');
  configError(t, conf({ ranges: [[]] }), 'invalid range set 0: empty range set');
  configError(t, conf({ ranges: [[{ subnet: '10.0.0.0/24' }], [{ subnet: '10.1.0.0/32' }]] }), 'invalid range set 1: Network 10.1.0.0/32 too small to allocate from');
  configError(t, conf({ subnet: '10.0.0.1/24' }), 'invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is 10.0.0.0');
  configError(t, conf({ ranges: [[{ subnet: '10.0.0.0/24' }, { subnet: 'fd00::/64' }]] }), 'invalid range set 0: mixed address families');
  configError(t, conf({ ranges: [[{ subnet: '10.0.0.0/24' }, { subnet: '10.0.0.0/25' }]] }), /^invalid range set 0: subnets 10.0.0.1-10.0.0.254 and 10.0.0.1-10.0.0.126 overlap$/);
  configError(t, conf({ ranges: [[{ subnet: '10.0.0.0/24' }], [{ subnet: '10.0.0.128/25' }]] }), 'range set 0 overlaps with 1');
  configError(t, conf({ ranges: [[{ subnet: '10.0.0.0/24', rangeStart: '10.0.0.300' }]] }), 'invalid range set 0: invalid rangeStart "10.0.0.300": not an IP address');
  configError(t, conf({ ranges: [{ subnet: '10.0.0.0/24' }] }), /ipam.ranges must be a list of range sets/);
  configError(t, conf({ ranges: [[{ subnet: '10.0.0.0/24' }]], routes: [{ dst: '0.0.0.0' }] }), /invalid route 0: dst/);
  configError(t, conf({ ranges: [[{ subnet: '10.0.0.0/24' }]], routes: [{ dst: '0.0.0.0/0', gw: 'nope' }] }), /invalid route 0: gw "nope"/);
  configError(t, conf({ ranges: [[{ subnet: '10.0.0.0/24' }]], dataDir: 5 }), 'ipam.dataDir must be a string');
  configError(t, conf({ ranges: [[{ subnet: '10.0.0.0/24' }]] }, { name: '../etc' }), /invalid network name/);
  configError(t, conf({ ranges: [[{ subnet: '10.0.0.0/24' }]] }, { name: '' }), 'missing network name');
});

test('requested addresses: CNI_ARGS IP (comma-separated), args.cni.ips, runtimeConfig.ips, deduplicated', (t) => {
  const netConf = conf(
    { ranges: [[{ subnet: '10.0.0.0/24' }]] },
    { args: { cni: { ips: ['10.0.0.7', 'fd00::7/64'] } }, runtimeConfig: { ips: ['10.0.0.8/24', '10.0.0.5'] } },
  );
  const args = new Map([
    ['IgnoreUnknown', '1'],
    ['IP', '10.0.0.5, 10.0.0.6/24'],
  ]);
  t.deepEqual(requestedAddresses(netConf, args).map(formatAddress), ['10.0.0.5', '10.0.0.6', '10.0.0.7', 'fd00::7', '10.0.0.8']);
  t.deepEqual(requestedAddresses(conf({ subnet: '10.0.0.0/24' }), new Map()), []);
});

test('an unparsable requested address: code 4 from CNI_ARGS, code 7 from the configuration', (t) => {
  const plain = conf({ subnet: '10.0.0.0/24' });
  const fromEnv = t.throws(() => requestedAddresses(plain, new Map([['IP', '10.0.0.5,banana']])), { instanceOf: CniError }) as CniError;
  t.is(fromEnv.code, ErrorCode.InvalidEnvironment);
  t.regex(fromEnv.message, /banana/);
  const fromConfig = t.throws(() => requestedAddresses(conf({ subnet: '10.0.0.0/24' }, { runtimeConfig: { ips: ['10.0.0.999'] } }), new Map()), {
    instanceOf: CniError,
  }) as CniError;
  t.is(fromConfig.code, ErrorCode.InvalidNetworkConfig);
  t.is(fromConfig.message, 'cannot understand ip: "10.0.0.999"');
});
