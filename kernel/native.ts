/**
 * Typed access to the weft_native addon (kernel/native/weft_native.c): the Linux system calls
 * Node.js does not expose. Only kernel/ imports this module.
 */
import path from 'node:path';
import { addonFromSource } from './addon-source';

export interface NativeBinding {
  /** setns(fd, CLONE_NEWNET) for the calling (main) thread. */
  setns(fd: number): void;
  /** Creates a network namespace pinned by a bind mount on an existing empty file. */
  createNetns(pinPath: string): void;
  /** umount2(path, MNT_DETACH). */
  umount(target: string): void;
  /** flock(); false when nonBlocking and the lock is held elsewhere. */
  flock(fd: number, exclusive: boolean, nonBlocking: boolean): boolean;
  funlock(fd: number): void;
}

let binding: NativeBinding | undefined;

/** Loads the addon on first use, so that code paths that never need it never pay for it. */
export function native(): NativeBinding {
  binding ??= addonFromSource('weft_native.node') as NativeBinding | undefined;
  if (!binding) {
    // dist/kernel/native.js -> <root>/kernel/native/build/Release/weft_native.node
    const candidates = [
      process.env.WEFT_NATIVE_ADDON,
      path.join(__dirname, '..', '..', 'kernel', 'native', 'build', 'Release', 'weft_native.node'),
      path.join(__dirname, 'weft_native.node'),
    ].filter((p): p is string => Boolean(p));
    let lastError: unknown;
    for (const candidate of candidates) {
      try {
        binding = require(candidate) as NativeBinding;
        break;
      } catch (err) {
        lastError = err;
      }
    }
    if (!binding) throw new Error(`weft native addon not found (run npm run build)`, { cause: lastError });
  }
  return binding;
}
