// Public surface of the protocol core (pure: no browser or Node APIs).
export { Veil } from './veil';
export type {
  Contact,
  Conversation,
  DecryptResult,
  MessageStatus,
  PublicIdentity,
  PublishedIdentity,
  VeilOptions,
} from './veil';
export {
  safetyNumber,
  formatSafetyNumber,
  scannableFingerprint,
  compareScannable,
} from './safety-number';
export { armor, dearmor, findArmor, Reassembler } from './armor';
export type { ArmorChunk } from './armor';
export { exportBackup, openBackup, restoreBackup } from './backup';
export { VeilError, isVeilError } from './errors';
export type { VeilErrorCode } from './errors';
export { MemoryStore } from './store';
export type { ProtocolStore, StoreOp, StoreTable } from './store';
export type { CryptoProvider, KeyPair } from './crypto/provider';
export { nobleProvider } from './crypto/noble';
export {
  bundleFromJson,
  bundleToJson,
  identityDhPublic,
  validateHandle,
  isValidHandle,
} from './identity';
export type { PrekeyBundle, PrekeyBundleJson } from './identity';
