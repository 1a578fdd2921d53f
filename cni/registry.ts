/**
 * The plugins the multi-call program serves, by the name it is run as. Each entry loads its
 * module only when called, so that VERSION (which runtimes call before every ADD and DEL) and
 * each plugin pay only for what they use.
 */
import type { CniPlugin } from './plugin';

export type PluginLoader = () => CniPlugin;

export const PLUGINS: Readonly<Record<string, PluginLoader>> = {
  'weft-ipam': () => (require('../ipam/plugin') as typeof import('../ipam/plugin')).ipamPlugin,
};

export const PLUGIN_NAMES: readonly string[] = Object.keys(PLUGINS);
