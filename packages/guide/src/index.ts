// @dalle/guide: CLIP-guided generation over dVAE latents (public API).
export {};
