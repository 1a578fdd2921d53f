/**
 * The plugins the multi-call program serves, by the name it is run as. Each entry loads its
 * module only when called, so that VERSION (which runtimes call before every ADD and DEL) and
 * each plugin pay only for what they use.
 */
import type { CniPlugin, PluginOptions } from './plugin';

export type PluginLoader = (options?: PluginOptions) => CniPlugin;

export const PLUGINS: Readonly<Record<string, PluginLoader>> = {
  // IPAM touches no network namespace: one plugin object serves every host.
  'weft-ipam': () => (require('../ipam/plugin') as typeof import('../ipam/plugin')).ipamPlugin,
  'weft-bridge': (options) => (require('./bridge/plugin') as typeof import('./bridge/plugin')).createBridgePlugin(options),
  'weft-macvlan': (options) => (require('./macvlan/plugin') as typeof import('./macvlan/plugin')).createMacvlanPlugin(options),
};

export const PLUGIN_NAMES: readonly string[] = Object.keys(PLUGINS);
