/**
 * The nftables backend's periodic resync against the real kernel: it reads weft's table back
 * only when the ruleset's generation moved since its own commit, and then reverts what another
 * writer changed in that table.
 */
import test from 'ava';
import { NftablesBackend } from '../../agent/backend/nftables/backend';
import type { NodeState } from '../../agent/dataplane/node-state';
import { execTool, systemBinary } from '../../kernel/exec';
import { NftCli } from '../../kernel/nft';
import { tempNetns } from '../helpers/netns';

const state = (pods: [string, string[]][]): NodeState => ({
  nodeName: 'n1',
  localPods: pods.map(([name, ips]) => ({ namespace: 'default', name, ips })),
});

test('a resync reads the table only after another commit, and reverts a deleted element', async (t) => {
  const ns = tempNetns(t, 'resync');
  const nft = new NftCli({ netns: ns });
  let reads = 0;
  const listObjects = nft.listObjects.bind(nft);
  nft.listObjects = async (ref) => {
    reads++;
    return listObjects(ref);
  };
  const backend = new NftablesBackend(nft, 'weft');
  const s = state([['a', ['10.244.1.2', 'fd00::2']], ['b', ['10.244.1.3']]]);
  t.true((await backend.apply(s)).changes > 0);
  t.is(reads, 1);
  for (let i = 0; i < 3; i++) t.is((await backend.apply(s, { fromKernel: 'if-changed' })).changes, 0);
  t.is(reads, 1, 'nothing else wrote: no read');

  // Someone deletes a pod's element behind the agent's back.
  const nftTool = (...args: string[]) => execTool(systemBinary('nft'), args, { netns: ns });
  t.is((await nftTool('delete', 'element', 'inet', 'weft', 'local-pods-v4', '{ 10.244.1.2 }')).code, 0);
  t.is((await backend.apply(s, { fromKernel: 'if-changed' })).changes, 1);
  t.is(reads, 2);
  const listed = await nftTool('list', 'set', 'inet', 'weft', 'local-pods-v4');
  t.regex(listed.stdout, /10\.244\.1\.2/, 'the element is back');
  t.is((await backend.apply(s, { fromKernel: 'if-changed' })).changes, 0);
  t.is(reads, 2, 'and the backend trusts its table again');
});
