#!/usr/bin/env -S node
/**
 * weft-agent: one per node. See agent.ts for what it does and options.ts for how it is run.
 * SIGTERM and SIGINT stop it cleanly and leave its rules in the kernel.
 */
import pino from 'pino';
import { IptablesCli } from '../kernel/iptables';
import { NftCli } from '../kernel/nft';
import { Agent } from './agent';
import { IptablesBackend } from './backend/iptables/backend';
import { chainPrefix } from './backend/iptables/render';
import { NftablesBackend } from './backend/nftables/backend';
import type { DataPlaneBackend } from './dataplane/node-state';
import { AgentMetrics } from './metrics';
import { parseAgentArgs, parseHostPort, type AgentCliOptions } from './options';
import { createSource } from './sources/create';
import { OverlayController } from '../overlay/controller';
import { parseDeriveConfig } from '../overlay/derive';

/**
 * How long one kernel transaction may take before it is killed (and the sync retried). Large:
 * at 10,000 services a first iptables-restore takes minutes (bench/services.ts), and killing it
 * only starts it over.
 */
const KERNEL_TOOL_TIMEOUT_MS = 600_000;

function backendFor(o: AgentCliOptions): DataPlaneBackend {
  if (o.backend === 'iptables') {
    const families = (['ipv4', 'ipv6'] as const).map((family) => new IptablesCli({ family, binary: o.iptablesBinary, timeoutMs: KERNEL_TOOL_TIMEOUT_MS }));
    return new IptablesBackend(families, chainPrefix(o.table));
  }
  return new NftablesBackend(new NftCli({ timeoutMs: KERNEL_TOOL_TIMEOUT_MS }), o.table);
}

async function main(): Promise<void> {
  const options = parseAgentArgs(process.argv.slice(2));
  const log = pino({ level: options.logLevel, base: { node: options.nodeName } });
  let agent: Agent;
  try {
    const source = createSource(options);
    agent = await Agent.start({
      nodeName: options.nodeName,
      sources: [source],
      backend: backendFor(options),
      overlay:
        options.overlay === 'none'
          ? undefined
          : new OverlayController({
              mode: options.overlay,
              vni: options.vni,
              port: options.vxlanPort,
              deviceNames: { 4: options.vxlanDevice, 6: options.vxlanDeviceV6 },
              nodeNetworkFile: options.nodeNetworkFile,
            }),
      compile: {
        ...(options.podBridge ? { podBridge: options.podBridge } : {}),
        networkPolicy: options.networkPolicy,
        ...(options.proxy ? { proxy: { nodePortAddresses: options.nodePortAddresses, clusterCidrs: options.clusterCidrs } } : {}),
        ...(options.masquerade ? { masquerade: { clusterCidrs: options.clusterCidrs, serviceCidrs: options.serviceCidrs } } : {}),
        ...(options.underlayCidrs.length > 0 ? { derive: parseDeriveConfig(options.underlayCidrs, options.clusterCidrs, options.nodeCidrMaskSize) } : {}),
      },
      socketPath: options.socket,
      cniSocketPath: options.cniSocket || undefined,
      health: options.healthListen ? parseHostPort(options.healthListen) : undefined,
      log,
      metrics: new AgentMetrics({ processMetrics: true }),
      reconcile: { resyncIntervalMs: options.resyncInterval * 1000 },
    });
  } catch (err) {
    log.fatal({ err }, 'weft-agent could not start');
    process.exitCode = 1;
    return;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping; rules stay in the kernel');
    agent.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
