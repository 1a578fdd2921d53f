/** weft-macvlan: the plugin and its configuration. */
export { createMacvlanPlugin, macvlanPlugin } from './plugin';
export { parseMacvlanConfig, type MacvlanConfig } from './config';
