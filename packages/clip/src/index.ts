// @dalle/clip: public API (explicit named exports only).
export {};
