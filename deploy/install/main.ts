#!/usr/bin/env -S node
/**
 * `node dist/deploy/install/main.js [--cni-bin-dir DIR] [--cni-conf-dir DIR] ...`: the DaemonSet's
 * init container; see install.ts. Exits non-zero when anything could not be installed, so kubelet
 * retries it and the agent does not start on a node without its plugins.
 */
import path from 'node:path';
import yargs from 'yargs';
import { install } from './install';

/** dist/deploy/install -> dist */
const DIST = path.join(__dirname, '..', '..');

function main(): void {
  const a = yargs(process.argv.slice(2))
    .scriptName('weft-install-cni')
    .usage('$0 [options]\n\nInstalls weft\'s CNI plugins and network configuration on a node (atomically; unchanged files are left alone).')
    .option('cni-bin-dir', { type: 'string', default: '/host/opt/cni/bin', describe: 'the host\'s CNI plugin directory, as mounted' })
    .option('cni-conf-dir', { type: 'string', default: '/host/etc/cni/net.d', describe: 'the host\'s CNI configuration directory, as mounted' })
    .option('sea', { type: 'string', default: path.join(DIST, 'sea', 'weft-cni'), describe: 'the single executable (npm run build:sea)' })
    .option('shim', { type: 'string', default: path.join(DIST, 'shim', 'weft-cni-shim'), describe: 'weft-cni-shim (npm run build:shim)' })
    .option('agent-socket', { type: 'string', default: '/run/weft/agent.sock', describe: 'the agent\'s gRPC socket on the host (agentSocket in the conflist)' })
    .option('write-config', { type: 'boolean', default: true, describe: 'write 10-weft.conflist (--no-write-config where another tool owns net.d)' })
    .strict()
    .version(false)
    .parseSync();
  const report = install({ cniBinDir: a['cni-bin-dir'], cniConfDir: a['cni-conf-dir'], sea: a.sea, shim: a.shim, agentSocket: a['agent-socket'], writeConfig: a['write-config'] });
  for (const p of report.removed) process.stdout.write(`removed leftover ${p}\n`);
  process.stdout.write(report.changed.length === 0 ? 'weft CNI: everything already installed\n' : report.changed.map((p) => `installed ${p}\n`).join(''));
  for (const w of report.warnings) process.stderr.write(`weft-install-cni: warning: ${w}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`weft-install-cni: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
