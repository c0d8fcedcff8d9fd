// Package sample holds the denoising loop of the learned image-to-video
// engine: the seeded starting noise and the samplers that walk a latent video
// from noise to a clean latent by calling the exported diffusion network once
// (or, with classifier-free guidance, once batched or twice) per step.
//
// Conventions: a tensor is a flat []float32; the latent's layout (batch,
// channels, frames, height, width and their order) is the caller's business,
// and the package only needs its length. Schedules are computed in float64;
// per-element updates are done in float64 and rounded to float32.
//
// The package is pure Go and knows nothing of ONNX Runtime: the network is a
// callback, so the samplers are tested here against closed-form solutions.
package sample
