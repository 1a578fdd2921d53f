/**
 * Stand-in for the weft-ipam executable until cni/skel and cni/main exist: reads the CNI
 * environment and the configuration on stdin like a plugin, calls ipamPlugin in-process and
 * writes the result (or the error JSON, exit code 1) on stdout. Only as much protocol as the
 * multi-process tests need; the real protocol handling is cni/skel's.
 */
import fs from 'node:fs';
import type { Attachment, NetConf } from '../../cni/types';
import { CniError } from '../../cni/types';
import type { AttachmentRequest } from '../../cni/plugin';
import { ipamPlugin } from '../../ipam/plugin';

function cniArgs(text: string | undefined): Map<string, string> {
  const args = new Map<string, string>();
  for (const pair of (text ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0) args.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return args;
}

async function main(): Promise<void> {
  const rawConfig = fs.readFileSync(0);
  const config = JSON.parse(rawConfig.toString('utf8')) as NetConf;
  const env = process.env;
  const path = (env.CNI_PATH ?? '').split(':').filter(Boolean);
  const attachment = (): AttachmentRequest => ({
    containerId: env.CNI_CONTAINERID ?? '',
    netns: env.CNI_NETNS ?? '',
    ifName: env.CNI_IFNAME ?? '',
    args: cniArgs(env.CNI_ARGS),
    path,
    config,
    rawConfig,
  });
  switch (env.CNI_COMMAND) {
    case 'ADD':
      process.stdout.write(JSON.stringify(await ipamPlugin.add(attachment())));
      return;
    case 'DEL':
      return ipamPlugin.del(attachment());
    case 'CHECK':
      return ipamPlugin.check(attachment());
    case 'STATUS':
      return ipamPlugin.status?.({ path, config, rawConfig });
    case 'GC': {
      const validAttachments = (config['cni.dev/valid-attachments'] ?? []) as Attachment[];
      return ipamPlugin.gc?.({ path, config, rawConfig, validAttachments });
    }
    default:
      throw new CniError(4, `unknown CNI_COMMAND: ${env.CNI_COMMAND}`);
  }
}

main().catch((err: unknown) => {
  const error = err instanceof CniError ? err : new CniError(999, String(err));
  process.stdout.write(JSON.stringify(error.toJSON()));
  process.exitCode = 1;
});
