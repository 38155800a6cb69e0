// Mocha root hook: the single place tests choose the backend (DALLE_BACKEND overrides auto).
import { ensureGradients, selectBackend } from '@dalle/core';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60_000);
    const info = await selectBackend(undefined);
    ensureGradients(); // tests differentiate model functions directly; commands register on first use
    console.log(`tests run on backend: ${info.name}`);
  },
};
