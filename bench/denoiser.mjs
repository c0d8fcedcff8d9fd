// Runs the denoiser of a fixture written by BenchmarkDenoiserStep (see
// bench/denoiser_test.go) with onnxruntime-node: the same ONNX file, the
// same inputs, the same thread counts and graph optimisation level. Each
// step does what the Go adapter does: copy the latent and the time into the
// input tensors, run, copy the predictions out.
//
//   node bench/denoiser.mjs --dir FIXTURE [--steps N] [--out FILE]
//
// Prints "ns/step N" (the mean over N timed steps after the fixture's
// warm-up steps). --out writes the predictions of the first, untimed step
// as little-endian float32. onnxruntime-node is loaded from
// $PAIMENG_ORT_NODE_DIR/node_modules (default .cache/ort-node, filled by
// bench/denoiser.sh).
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = { steps: '20' };
for (let i = 2; i < process.argv.length; i += 2) {
	const k = process.argv[i].replace(/^--/, '');
	if (!['dir', 'steps', 'out'].includes(k) || i + 1 >= process.argv.length) {
		console.error('usage: node bench/denoiser.mjs --dir FIXTURE [--steps N] [--out FILE]');
		process.exit(2);
	}
	args[k] = process.argv[i + 1];
}
if (!args.dir) {
	console.error('denoiser.mjs: --dir is required');
	process.exit(2);
}
const steps = Number(args.steps);
if (!Number.isInteger(steps) || steps < 0) {
	console.error(`denoiser.mjs: --steps ${args.steps}: want an integer ≥ 0`);
	process.exit(2);
}

const nodeDir = resolve(process.env.PAIMENG_ORT_NODE_DIR || join(here, '..', '.cache', 'ort-node'));
const require = createRequire(join(nodeDir, 'package.json'));
let ort;
try {
	ort = require('onnxruntime-node');
} catch (e) {
	console.error(`denoiser.mjs: onnxruntime-node not found under ${nodeDir}/node_modules: run bench/denoiser.sh (${e.message})`);
	process.exit(1);
}

const spec = JSON.parse(readFileSync(join(args.dir, 'denoiser.json'), 'utf8'));
const floats = (file) => {
	const b = readFileSync(join(args.dir, file));
	// Copy into an aligned buffer of its own.
	return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

ort.env.logLevel = 'error';
const session = await ort.InferenceSession.create(join(args.dir, spec.model), {
	executionProviders: ['cpu'],
	intraOpNumThreads: spec.threads,
	interOpNumThreads: spec.threads,
	graphOptimizationLevel: spec.graph_optimization,
	executionMode: 'sequential',
});

const feeds = {};
for (const t of spec.inputs) {
	feeds[t.name] = new ort.Tensor('float32', floats(t.file), t.shape);
}
const x = floats(spec.inputs.find((t) => t.name === spec.latent).file); // the step's latent
const xIn = feeds[spec.latent].data;
const tIn = feeds[spec.timestep].data;
const out = new Float32Array(x.length);

async function step() {
	xIn.set(x);
	tIn.fill(spec.time);
	const r = await session.run(feeds);
	out.set(r[spec.output.name].data);
	r[spec.output.name].dispose();
}

await step();
if (args.out) {
	writeFileSync(args.out, Buffer.from(out.buffer, out.byteOffset, out.byteLength));
}
if (steps > 0) {
	for (let i = 0; i < spec.warmup; i++) {
		await step();
	}
	const t0 = process.hrtime.bigint();
	for (let i = 0; i < steps; i++) {
		await step();
	}
	const ns = Number(process.hrtime.bigint() - t0) / steps;
	console.log(`ns/step ${Math.round(ns)}`);
}
await session.release();
