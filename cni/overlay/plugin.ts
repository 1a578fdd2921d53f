/**
 * weft-overlay: attaches a pod to its node's bridge with an address from the node's pod subnet
 * and the overlay's MTU, by running weft-bridge with the configuration config.ts derives. The
 * derived configuration is saved per attachment so that DEL (and CHECK) use exactly what ADD
 * used, even after the node network changed or its file is gone (a reboot clears /run).
 */
import fs from 'node:fs';
import path from 'node:path';
import { readNodeNetwork } from '../../overlay/controller';
import type { AttachmentRequest, CniPlugin, PluginOptions } from '../plugin';
import { CniError, ErrorCode, type NetConf, type Result } from '../types';
import { bridgeConfigFor, parseOverlayConfig } from './config';

function savedConfigPath(stateDir: string, req: AttachmentRequest): string {
  return path.join(stateDir, `${req.containerId}-${req.ifName}.json`);
}

function withConfig(req: AttachmentRequest, config: NetConf): AttachmentRequest {
  return { ...req, config, rawConfig: Buffer.from(JSON.stringify(config)) };
}

export function createOverlayPlugin(options: PluginOptions = {}): CniPlugin {
  // Loaded lazily by the registry already; the bridge does the attaching.
  const bridge = (require('../bridge/plugin') as typeof import('../bridge/plugin')).createBridgePlugin(options);

  function derived(req: AttachmentRequest): NetConf {
    const cfg = parseOverlayConfig(req.config);
    const network = readNodeNetwork(cfg.nodeNetworkFile);
    if (!network) {
      throw new CniError(ErrorCode.TryAgainLater, `no node network yet: ${cfg.nodeNetworkFile} is missing`, 'weft-agent writes it once this node has a pod subnet (spec.podCIDRs) and its underlay address is found');
    }
    return bridgeConfigFor(req.config, network);
  }

  function saved(req: AttachmentRequest): NetConf | undefined {
    const { stateDir } = parseOverlayConfig(req.config);
    try {
      const conf = JSON.parse(fs.readFileSync(savedConfigPath(stateDir, req), 'utf8')) as NetConf;
      // prevResult and the like belong to this call, not to the ADD's.
      return { ...conf, ...(req.config.prevResult ? { prevResult: req.config.prevResult } : {}) };
    } catch {
      return undefined;
    }
  }

  return {
    name: 'weft-overlay',
    async add(req: AttachmentRequest): Promise<Result> {
      const { stateDir } = parseOverlayConfig(req.config);
      const config = derived(req);
      const { prevResult: _p, ...toSave } = config;
      fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      const file = savedConfigPath(stateDir, req);
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(toSave));
      fs.renameSync(`${file}.tmp`, file);
      try {
        return await bridge.add(withConfig(req, config));
      } catch (err) {
        fs.rmSync(file, { force: true });
        throw err;
      }
    },
    async del(req: AttachmentRequest): Promise<void> {
      const config = saved(req) ?? (() => {
        try {
          return derived(req);
        } catch {
          return undefined;
        }
      })();
      // Nothing saved and no node network: nothing of this attachment can be found.
      if (config) await bridge.del(withConfig(req, config));
      fs.rmSync(savedConfigPath(parseOverlayConfig(req.config).stateDir, req), { force: true });
    },
    async check(req: AttachmentRequest): Promise<void> {
      const config = saved(req);
      if (!config) throw new CniError(ErrorCode.InvalidEnvironment, `no ADD recorded for container ${req.containerId} interface ${req.ifName}`);
      await bridge.check(withConfig(req, config));
    },
  };
}
