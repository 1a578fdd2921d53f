/** weft-bridge: the plugin and what tests and the lab need to see of it. */
export { bridgePlugin, createBridgePlugin, hostVethName } from './plugin';
export { parseBridgeConfig, type BridgeConfig } from './config';
export { MASQ_TABLE, SPOOF_TABLE } from './firewall';
