// Named test timeouts (ms), so slow tests say why they are slow.
export const FAST = 10_000;
export const TRAINING = 120_000;
export const CLI = 120_000;
