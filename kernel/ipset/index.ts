/** ipset: sets read back with `ipset save`, changed with `ipset -exist restore` transactions. */
export * from './types';
export { IpsetError, IpsetValidationError, parseRestoreErrorLine } from './errors';
export { IpsetTransaction, type IpsetOperation } from './transaction';
export { IpsetCli, type Ipset, type IpsetCliOptions } from './ipset';
export { parseIpsetSave } from './parse-save';
export { canonicalElement, checkSetName, dimensions, MAX_SET_NAME } from './syntax';
