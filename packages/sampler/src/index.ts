// @dalle/sampler: public API (explicit named exports only).
export {};
