/** nftables transactions: typed objects, rendering, the real `nft` runner and an in-memory fake. */
export * from './types';
export { NftError, NftValidationError, type NftDiagnostic, parseNftDiagnostics } from './errors';
export { Transaction, nft } from './transaction';
export { renderOperation, renderOperations } from './render';
export { NftCli, type Nft, type NftCliOptions, type ListKinds, type TableObjects } from './nft';
export { FakeNft } from './fake';
export { NftParseError } from './parse-json';
