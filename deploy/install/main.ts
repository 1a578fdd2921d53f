#!/usr/bin/env -S node
/** `node dist/deploy/install/main.js [--cni-bin-dir DIR] [--cni-conf-dir DIR] ...`: see install.ts. */
import path from 'node:path';
import yargs from 'yargs';
import { install } from './install';

/** dist/deploy/install -> dist */
const DIST = path.join(__dirname, '..', '..');

function main(): void {
  const a = yargs(process.argv.slice(2))
    .scriptName('weft-install-cni')
    .usage('$0 [options]\n\nInstalls weft\'s CNI plugins and network configuration on a node (atomically; unchanged files are left alone).')
    .option('cni-bin-dir', { type: 'string', default: '/host/opt/cni/bin' })
    .option('cni-conf-dir', { type: 'string', default: '/host/etc/cni/net.d' })
    .option('sea', { type: 'string', default: path.join(DIST, 'sea', 'weft-cni'), describe: 'the single executable' })
    .option('shim', { type: 'string', default: path.join(DIST, 'shim', 'weft-cni-shim') })
    .option('agent-socket', { type: 'string', default: '/run/weft/agent.sock' })
    .option('write-config', { type: 'boolean', default: true })
    .strict()
    .version(false)
    .parseSync();
  const report = install({ cniBinDir: a['cni-bin-dir'], cniConfDir: a['cni-conf-dir'], sea: a.sea, shim: a.shim, agentSocket: a['agent-socket'], writeConfig: a['write-config'] });
  process.stdout.write(report.changed.length === 0 ? 'weft CNI: everything already installed\n' : report.changed.map((p) => `installed ${p}\n`).join(''));
}

try {
  main();
} catch (err) {
  process.stderr.write(`weft-install-cni: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
