// Package sample holds the denoising loop of the learned image-to-video
// engine: the seeded starting noise and the samplers that walk a latent video
// from noise to a clean latent by calling the exported diffusion network once
// per step (twice, or once with a batch of two, under classifier-free
// guidance). The engine builds a Denoiser around its ONNX Runtime session,
// makes a sampler, calls Reset(seed), then Step until Done() == Steps() (or
// Run, with a progress callback), and decodes Latent() with the VAE.
//
//   - Noise / FillNoise / NoiseSource: standard normal samples that depend
//     only on (seed, index), bit for bit on every machine (see noise.go).
//   - FlowEuler: flow-matching Euler with a shifted schedule (Wan 2.x,
//     LTX-Video, SD3); the network predicts velocity. The shift may follow
//     the token count (DynamicShift: LTX-Video, Flux) and the low-noise
//     steps may go to a second network (LowNoise: Wan 2.2 A14B's experts).
//   - EDMEuler: Euler on the EDM probability-flow ODE with the Karras
//     schedule and EDM preconditioning (Stable Video Diffusion: v-prediction,
//     σ_d = 1, c_noise = ¼·ln σ).
//
// Both samplers own their buffers, sized at construction, so a step
// allocates nothing; a canceled context stops a run between steps.
//
// Conventions: a tensor is a flat []float32; the latent's layout (batch,
// channels, frames, height, width and their order) and any conditioning
// inputs (image latents, text embeddings) are the caller's business, and the
// package only needs the latent's length. Schedules are computed in float64;
// per-element updates are done in float64 and rounded to float32.
//
// The package is pure Go and knows nothing of ONNX Runtime: the network is a
// callback, so the samplers are tested here against closed-form solutions.
package sample
