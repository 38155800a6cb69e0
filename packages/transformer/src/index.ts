// @dalle/transformer: public API (explicit named exports only).
export {};
