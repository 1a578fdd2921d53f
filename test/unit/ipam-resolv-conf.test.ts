import test from 'ava';
import { parseResolvConf } from '../../ipam/resolv-conf';

test('nameserver, domain, search and options become the result dns', (t) => {
  const text = [
    '# generated',
    'nameserver 10.96.0.10',
    '  nameserver   fd00::10  ',
    '; another comment',
    'domain example.org',
    'search svc.cluster.local cluster.local',
    'search example.com',
    'options ndots:5 edns0',
    'options timeout:1',
    '',
  ].join('\n');
  t.deepEqual(parseResolvConf(text), {
    nameservers: ['10.96.0.10', 'fd00::10'],
    domain: 'example.org',
    search: ['svc.cluster.local', 'cluster.local', 'example.com'],
    options: ['ndots:5', 'edns0', 'timeout:1'],
  });
});

test('the last domain wins; lines without a value and unknown keywords are skipped', (t) => {
  t.deepEqual(parseResolvConf('domain a.example\ndomain b.example\nnameserver\nsortlist 10.0.0.0\nsearch\n'), { domain: 'b.example' });
});

test('an empty file gives an empty dns object; CRLF line ends are tolerated', (t) => {
  t.deepEqual(parseResolvConf(''), {});
  t.deepEqual(parseResolvConf('nameserver 1.1.1.1\r\nsearch a b\r\n'), { nameservers: ['1.1.1.1'], search: ['a', 'b'] });
});
