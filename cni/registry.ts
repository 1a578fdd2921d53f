/**
 * The plugins the multi-call program serves, by the name it is run as. Each entry loads its
 * module only when called, so that VERSION (which runtimes call before every ADD and DEL) and
 * each plugin pay only for what they use.
 */
import { withAgentRegistration } from './attach/agent-registration';
import type { CniPlugin, PluginOptions } from './plugin';

export type PluginLoader = (options?: PluginOptions) => CniPlugin;

export const PLUGINS: Readonly<Record<string, PluginLoader>> = {
  // IPAM touches no network namespace: one plugin object serves every host.
  'weft-ipam': () => (require('../ipam/plugin') as typeof import('../ipam/plugin')).ipamPlugin,
  // Attachment plugins register the pods they attach with weft-agent (when configured to).
  'weft-bridge': (options) => withAgentRegistration((require('./bridge/plugin') as typeof import('./bridge/plugin')).createBridgePlugin(options)),
  'weft-overlay': (options) => withAgentRegistration((require('./overlay/plugin') as typeof import('./overlay/plugin')).createOverlayPlugin(options)),
  'weft-macvlan': (options) => withAgentRegistration((require('./macvlan/plugin') as typeof import('./macvlan/plugin')).createMacvlanPlugin(options)),
};

export const PLUGIN_NAMES: readonly string[] = Object.keys(PLUGINS);
