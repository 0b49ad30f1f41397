// Headless Chromium for end-to-end tests: Debian's /usr/bin/chromium driven by playwright-core
// (no browser download), with the flags this machine's closed network needs and a fresh profile.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const IN_CI = process.env.CI === 'true';

export function haveChromium(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/**
 * Locally a missing Chromium skips the browser tests; under CI=true it must fail them, with this
 * message, rather than let them pass by skipping.
 */
export function missingChromiumMessage(): string {
  return (
    `Chromium not found at ${CHROMIUM_PATH}: the HTML report's browser tests need it ` +
    `(install it with: apt-get update && apt-get install -y chromium; .ci/run does this)`
  );
}

export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(viewport = { width: 1100, height: 900 }): Promise<Browser> {
  if (!haveChromium()) throw new Error(missingChromiumMessage());
  const userDataDir = mkdtempSync(join(tmpdir(), 'tlbsync-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
