#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
/**
 * weftctl's executable, also installed as the kubectl plugin `kubectl-weft`. The command line
 * itself is main.ts; this runs it from the bundle `npm run build` makes when that is up to date
 * (bundle-run.ts: the same modules, started in about half the time), else from the modules.
 *
 * The shebang drops NODE_EXTRA_CA_CERTS, as the CNI plugins' does (cni/main.ts): Node parses
 * that CA bundle at every start (~35 ms on a machine that sets it), and weftctl makes no TLS
 * connection (agents answer on unix sockets). A command that talks TLS would need it back.
 */
import { runBundle } from './bundle-run';

// Required, not imported: the modules are loaded only when the bundle is not used.
if (!runBundle()) require('./main');
