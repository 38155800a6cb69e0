// @dalle/dvae: public API (explicit named exports only).
export {};
