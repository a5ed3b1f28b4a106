/**
 * After each test file: stop the launcher thread its actions started (activities/launcher.ts). Jest gives
 * every file its own modules, so each file that runs an action gets a thread of its own, which would otherwise
 * stay, idle, until the whole run ends.
 */
import { stopLauncher } from '../../activities/launcher';

afterAll(async () => {
  await stopLauncher();
});
