/** iptables transactions: chains weft owns, replaced atomically by iptables-restore, and jumps into them. */
export * from './types';
export { IptablesError, IptablesValidationError, parseRestoreErrorLine } from './errors';
export { IptablesTransaction, type CurrentState } from './transaction';
export { IptablesCli, iptablesPrograms, type Iptables, type IptablesCliOptions } from './iptables';
export { parseIptablesSave } from './parse-save';
export { splitWords, quoteWord, optionGroups, BUILTIN_CHAINS } from './syntax';
