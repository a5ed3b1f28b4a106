/**
 * An ed25519 private key read from a file (32 bytes, hex or base64), as the approval app's attester key and the
 * workers' seal key are configured: a bad file stops the process at start, naming the variable.
 */
import { readFileSync } from 'node:fs';
import { decodeBytes } from '../plan/keys';

/** The key in `file`, or why not (a line naming `variable` and what was wrong). */
export function readPrivateKeyFile(variable: string, file: string): { key: Uint8Array } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return { problem: `${variable}=${JSON.stringify(file)}: cannot read the file` };
  }
  const key = decodeBytes(text, 32);
  if (!key) {
    return {
      problem: `${variable}=${JSON.stringify(file)}: expected an ed25519 private key (32 bytes, hex or base64)`,
    };
  }
  return { key };
}
