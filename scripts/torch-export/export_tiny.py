"""Exports a tiny PyTorch-defined image-to-video model with torch.onnx.

The package it writes follows docs/models.md exactly as an operator's export
of a real checkpoint would: a Wan-style latent video model (causal 3D VAE with
temporal factor 4 and spatial factor 8, a DiT denoiser that concatenates the
image latent and patchifies inside its wrapper, a T5-style text encoder with a
SentencePiece Unigram tokenizer), every component traced by torch.onnx.export
with named inputs and outputs and dynamic axes. The weights are random (seeded):
the package proves the contract and the pipeline, not the pictures.

Besides the package it writes reference/: for each component, one set of
inputs drawn from a seeded generator and the outputs PyTorch itself computed
for them, as raw little-endian arrays listed in reference/index.json. The Go
tests feed the same inputs through ONNX Runtime and compare.

With --family svd it writes a Stable Video Diffusion-style package instead:
kind edm, a CLIP-style image encoder, a per-frame VAE (rank 4), a denoiser in
latent layout bt_chw (frames folded into the batch) with a scalar timestep
and added_time_ids, saved with its weights in an external data file by
onnx.save_model, as exporters of large models do.

Run it with scripts/torch-export.sh (it installs Debian's python3-torch,
python3-onnx and python3-sentencepiece when they are missing).
"""

import argparse
import json
import math
import os
import shutil
import tempfile

import numpy as np
import onnx
import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

C = 4  # latent channels
S = 8  # spatial factor
TF = 4  # temporal factor
D = 32  # model width
HEADS = 2
L = 16  # text length
OPSET = 17

# Prompts the tokenizer is trained on (SentencePiece needs some text).
CORPUS = """a cat walks by the river at sunset
a dog runs across a snowy field, slow motion
the camera slowly pushes in on a lighthouse in a storm
a girl in a red dress dances in the rain
waves crash against black rocks, cinematic lighting
a paper boat drifts down a street after the rain
an astronaut floats above the earth, stars in the background
a dragon flies over misty mountains at dawn
the city at night, neon lights reflected in puddles
a hot air balloon rises over a desert canyon
close up of a flower opening in the morning sun
a train crosses a bridge over a deep valley
children fly kites on a windy beach
a fox looks around in a quiet forest, autumn leaves falling
smoke rises from a cup of tea on a wooden table
一只猫在河边散步
镜头缓慢推近，夕阳下的海边
小女孩在雨中跳舞
雪山上的日出，云海翻腾
古老的城市夜景，灯火通明
一条龙在云中飞翔
樱花随风飘落，春天的公园
宇航员在太空中漂浮
海浪拍打着礁石，电影感
森林里的小狐狸，秋天的落叶
""".strip().splitlines()


class TextEncoder(nn.Module):
    """T5-style: token and position embeddings, one pre-norm block with
    masked self-attention and a GELU MLP, a final LayerNorm; padding
    positions are zeroed."""

    def __init__(self, vocab):
        super().__init__()
        self.tok = nn.Embedding(vocab, D)
        self.pos = nn.Parameter(torch.randn(L, D) * 0.02)
        self.norm1 = nn.LayerNorm(D)
        self.attn = Attention()
        self.norm2 = nn.LayerNorm(D)
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D))
        self.out = nn.LayerNorm(D)

    def forward(self, input_ids, attention_mask):
        x = self.tok(input_ids) + self.pos[: input_ids.shape[1]]
        keep = attention_mask.to(x.dtype)
        bias = (1.0 - keep)[:, None, None, :] * -1e4
        h = self.norm1(x)
        x = x + self.attn(h, h, bias)
        x = x + self.mlp(self.norm2(x))
        return self.out(x) * keep[:, :, None]


class Attention(nn.Module):
    def __init__(self, kv_dim=D):
        super().__init__()
        self.q = nn.Linear(D, D)
        self.k = nn.Linear(kv_dim, D)
        self.v = nn.Linear(kv_dim, D)
        self.o = nn.Linear(D, D)

    def forward(self, x, kv, bias=None):
        b, n, _ = x.shape
        m = kv.shape[1]
        dh = D // HEADS
        q = self.q(x).reshape(b, n, HEADS, dh).transpose(1, 2)
        k = self.k(kv).reshape(b, m, HEADS, dh).transpose(1, 2)
        v = self.v(kv).reshape(b, m, HEADS, dh).transpose(1, 2)
        w = q @ k.transpose(-1, -2) / math.sqrt(dh)
        if bias is not None:
            w = w + bias
        y = w.softmax(-1) @ v
        return self.o(y.transpose(1, 2).reshape(b, n, D))


class VAEEncoder(nn.Module):
    """Causal 3D encoder: the first frame is repeated TF-1 times in front,
    then stride-2 convolutions (the last also strides TF in time) and a
    1x1x1 projection to the latent mean."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv3d(3, 8, (1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.c2 = nn.Conv3d(8, 16, (1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.c3 = nn.Conv3d(16, 16, (TF, 3, 3), (TF, 2, 2), (0, 1, 1))
        self.proj = nn.Conv3d(16, C, 1)

    def forward(self, video):
        first = video[:, :, :1].expand(-1, -1, TF - 1, -1, -1)
        x = torch.cat([first, video], dim=2)
        x = F.silu(self.c1(x))
        x = F.silu(self.c2(x))
        x = F.silu(self.c3(x))
        return self.proj(x)


class VAEDecoder(nn.Module):
    """Mirror of the encoder: T latent frames give TF*(T-1)+1 frames."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Conv3d(C, 16, 1)
        self.u1 = nn.ConvTranspose3d(16, 16, (TF, 2, 2), (TF, 2, 2))
        self.u2 = nn.ConvTranspose3d(16, 8, (1, 2, 2), (1, 2, 2))
        self.u3 = nn.ConvTranspose3d(8, 8, (1, 2, 2), (1, 2, 2))
        self.rgb = nn.Conv3d(8, 3, (1, 3, 3), 1, (0, 1, 1))

    def forward(self, latent):
        x = F.silu(self.proj(latent))
        x = F.silu(self.u1(x))[:, :, TF - 1 :]
        x = F.silu(self.u2(x))
        x = F.silu(self.u3(x))
        return torch.tanh(self.rgb(x))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.mod = nn.Linear(D, 6 * D)
        self.norm1 = nn.LayerNorm(D)
        self.attn = Attention()
        self.norm2 = nn.LayerNorm(D)
        self.cross = Attention()
        self.norm3 = nn.LayerNorm(D)
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(approximate="tanh"), nn.Linear(4 * D, D))

    def forward(self, x, temb, context):
        s1, b1, g1, s2, b2, g2 = self.mod(temb)[:, None].chunk(6, dim=-1)
        h = self.norm1(x) * (1 + s1) + b1
        x = x + g1 * self.attn(h, h)
        x = x + self.cross(self.norm2(x), context)
        h = self.norm3(x) * (1 + s2) + b2
        return x + g2 * self.mlp(h)


class Denoiser(nn.Module):
    """Wan-style wrapper: latent, a first-frame mask channel and the image
    latent concatenated along channels, patchified 1x2x2 by a convolution,
    a depthwise 3D convolution for position, timestep-driven adaLN blocks
    with self- and cross-attention, unpatchified to the velocity."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv3d(2 * C + 1, D, (1, 2, 2), (1, 2, 2))
        self.pos = nn.Conv3d(D, D, 3, padding=1, groups=D)
        self.temb = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        self.blocks = nn.ModuleList([Block(), Block()])
        self.norm = nn.LayerNorm(D)
        self.final_mod = nn.Linear(D, 2 * D)
        self.head = nn.Linear(D, C * 4)

    def forward(self, x, t, context, y):
        b, _, tt, h, w = x.shape
        first = x[:, :1, :1]
        mask = torch.cat([torch.ones_like(first), torch.zeros_like(x[:, :1, 1:])], dim=2)
        z = self.patch(torch.cat([x, mask, y], dim=1))
        z = z + self.pos(z)
        tokens = z.flatten(2).transpose(1, 2)  # [B, T*h/2*w/2, D]
        half = D // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        angles = t[:, None].float() * freqs[None]
        temb = self.temb(torch.cat([angles.cos(), angles.sin()], dim=-1))
        for blk in self.blocks:
            tokens = blk(tokens, temb, context)
        shift, scale = self.final_mod(F.silu(temb))[:, None].chunk(2, dim=-1)
        out = self.head(self.norm(tokens) * (1 + scale) + shift)  # [B, N, C*2*2]
        out = out.reshape(b, tt, h // 2, w // 2, C, 2, 2)
        out = out.permute(0, 4, 1, 2, 5, 3, 6)  # B C T h/2 2 w/2 2
        return out.reshape(b, C, tt, h, w)


class ImageEncoder(nn.Module):
    """CLIP-style: 32x32 patches of a 224x224 picture (pooled 8x8, then 4x4
    convolution patches), position embeddings,
    one attention block, mean-pooled and projected to one embedding."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool2d(8)
        self.patch = nn.Conv2d(3, D, 4, 4)
        self.pos = nn.Parameter(torch.randn(49, D) * 0.02)
        self.norm1 = nn.LayerNorm(D)
        self.attn = Attention()
        self.norm2 = nn.LayerNorm(D)
        self.proj = nn.Linear(D, D)

    def forward(self, pixel_values):
        x = self.patch(self.pool(pixel_values)).flatten(2).transpose(1, 2) + self.pos
        h = self.norm1(x)
        x = x + self.attn(h, h)
        return self.proj(self.norm2(x).mean(dim=1, keepdim=True))  # [B, 1, D]


class FrameVAEEncoder(nn.Module):
    """Per-frame (SVD's image VAE): [N, 3, H, W] -> [N, C, H/8, W/8]."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 2, 1)
        self.c2 = nn.Conv2d(8, 16, 3, 2, 1)
        self.c3 = nn.Conv2d(16, 16, 3, 2, 1)
        self.proj = nn.Conv2d(16, C, 1)

    def forward(self, images):
        x = F.silu(self.c1(images))
        x = F.silu(self.c2(x))
        return self.proj(F.silu(self.c3(x)))


class FrameVAEDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(C, 16, 1)
        self.u1 = nn.ConvTranspose2d(16, 16, 2, 2)
        self.u2 = nn.ConvTranspose2d(16, 8, 2, 2)
        self.u3 = nn.ConvTranspose2d(8, 8, 2, 2)
        self.rgb = nn.Conv2d(8, 3, 3, 1, 1)

    def forward(self, latent):
        x = F.silu(self.proj(latent))
        x = F.silu(self.u1(x))
        x = F.silu(self.u2(x))
        x = F.silu(self.u3(x))
        return torch.tanh(self.rgb(x))


class SVDDenoiser(nn.Module):
    """SVD-style wrapper: sample [N, C, h, w] with the N = B*F frames folded
    into the batch, the still's latent [B, C, h, w] repeated over the frames
    and concatenated along channels, a scalar timestep, added_time_ids
    [B, 3] and the image embedding [B, 1, D] repeated per frame for the
    cross-attention; blocks of spatial self-attention, attention across the
    frames of each clip, and cross-attention."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(2 * C, D, 2, 2)
        self.temb = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        self.ids = nn.Linear(3, D)
        self.norm1 = nn.LayerNorm(D)
        self.spatial = Attention()
        self.norm2 = nn.LayerNorm(D)
        self.temporal = Attention()
        self.norm3 = nn.LayerNorm(D)
        self.cross = Attention()
        self.norm4 = nn.LayerNorm(D)
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D))
        self.head = nn.Linear(D, C * 4)

    def forward(self, sample, timestep, image_latents, image_embeds, added_time_ids):
        n, _, h, w = sample.shape
        b = image_latents.shape[0]
        f = n // b
        y = image_latents[:, None].expand(b, f, C, h, w).reshape(n, C, h, w)
        z = self.patch(torch.cat([sample, y], dim=1))  # [N, D, h/2, w/2]
        p = z.shape[2] * z.shape[3]
        tokens = z.flatten(2).transpose(1, 2)  # [N, P, D]
        half = D // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        angles = timestep * freqs
        emb = self.temb(torch.cat([angles.cos(), angles.sin()])) + self.ids(added_time_ids)  # [B, D]
        emb = emb[:, None].expand(b, f, D).reshape(n, 1, D)
        ctx = image_embeds[:, None].expand(b, f, 1, D).reshape(n, 1, D)
        tokens = tokens + emb
        hs = self.norm1(tokens)
        tokens = tokens + self.spatial(hs, hs)
        # Attention across the frames of each clip, per token position.
        tt = tokens.reshape(b, f, p, D).transpose(1, 2).reshape(b * p, f, D)
        ht = self.norm2(tt)
        tt = tt + self.temporal(ht, ht)
        tokens = tt.reshape(b, p, f, D).transpose(1, 2).reshape(n, p, D)
        tokens = tokens + self.cross(self.norm3(tokens), ctx)
        tokens = tokens + self.mlp(self.norm4(tokens))
        out = self.head(tokens).reshape(n, h // 2, w // 2, C, 2, 2)
        return out.permute(0, 3, 1, 4, 2, 5).reshape(n, C, h, w)


def train_tokenizer(out_dir):
    out_dir = os.path.abspath(out_dir)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        # Relative names: the model records its training input's path.
        os.chdir(tmp)
        with open("corpus.txt", "w", encoding="utf-8") as f:
            f.write("\n".join(CORPUS * 4) + "\n")
        # T5's layout: <pad> 0, </s> 1, <unk> 2, no <s>; nmt_nfkc normalisation.
        # One thread and a fixed seed: the same model on every run.
        spm.set_random_generator_seed(1)
        spm.SentencePieceTrainer.train(
            input="corpus.txt", model_prefix="spiece", model_type="unigram", vocab_size=300,
            hard_vocab_limit=False, character_coverage=1.0, pad_id=0, eos_id=1, unk_id=2,
            bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
            normalization_rule_name="nmt_nfkc", minloglevel=2, num_threads=1)
        os.makedirs(os.path.join(out_dir, "tokenizer"), exist_ok=True)
        shutil.copy("spiece.model", os.path.join(out_dir, "tokenizer", "spiece.model"))
        os.chdir(cwd)
    return spm.SentencePieceProcessor(model_file=os.path.join(out_dir, "tokenizer", "spiece.model"))


def export(module, args, path, inputs, outputs, axes):
    torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs,
                      dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)


def tensor(name, dtype, shape):
    return {"name": name, "dtype": dtype, "shape": shape}


def manifest(version):
    lat = ["B", C, "T", "h", "w"]
    vid = ["B", 3, "F", "H", "W"]
    g = torch.Generator().manual_seed(7)
    mean = [round(float(v), 4) for v in torch.randn(C, generator=g) * 0.1]
    std = [round(float(v), 4) for v in 1 + torch.rand(C, generator=g)]
    return {
        "name": "paimeng-torch-tiny",
        "version": version,
        "kind": "flow",
        "fps": 8,
        "resolutions": [{"width": 64, "height": 64}, {"width": 96, "height": 64}],
        "frames": [5, 9],
        "latent": {"channels": C, "spatial_factor": S, "temporal_factor": TF, "scaling_factor": 1,
                   "mean": mean, "std": std},
        "scheduler": {"type": "flow_euler", "shift": 3, "time_scale": 1000},
        "defaults": {"steps": 4, "guidance": 3},
        "batched_guidance": True,
        "image_latent": "video",
        "text": {"tokenizer": "unigram", "file": "tokenizer/spiece.model", "max_length": L},
        "components": {
            "text_encoder": {"file": "text_encoder.onnx",
                             "inputs": {"input_ids": tensor("input_ids", "int64", ["B", L]),
                                        "attention_mask": tensor("attention_mask", "int64", ["B", L])},
                             "outputs": {"hidden_states": tensor("last_hidden_state", "float32", ["B", L, D])}},
            "vae_encoder": {"file": "vae_encoder.onnx",
                            "inputs": {"image": tensor("video", "float32", vid)},
                            "outputs": {"latent": tensor("latent", "float32", lat)}},
            "denoiser": {"file": "denoiser.onnx",
                         "inputs": {"latent": tensor("x", "float32", lat),
                                    "timestep": tensor("t", "float32", ["B"]),
                                    "encoder_hidden_states": tensor("context", "float32", ["B", L, D]),
                                    "image_latent": tensor("y", "float32", lat)},
                         "outputs": {"prediction": tensor("v", "float32", lat)}},
            "vae_decoder": {"file": "vae_decoder.onnx",
                            "inputs": {"latent": tensor("latent", "float32", lat)},
                            "outputs": {"video": tensor("video", "float32", vid)}},
        },
    }


def manifest_svd(version):
    lat = ["N", C, "h", "w"]
    return {
        "name": "paimeng-torch-tiny-svd",
        "version": version,
        "kind": "edm",
        "fps": 6,
        "resolutions": [{"width": 64, "height": 64}, {"width": 96, "height": 64}],
        "frames": [6, 8],
        "latent": {"channels": C, "spatial_factor": S, "temporal_factor": 1, "scaling_factor": 0.18215,
                   "layout": "bt_chw"},
        "scheduler": {"type": "edm_euler", "sigma_min": 0.002, "sigma_max": 700, "rho": 7, "sigma_data": 1,
                      "prediction": "v", "timestep": "c_noise"},
        "defaults": {"steps": 4, "guidance": 2.5},
        "batched_guidance": True,
        "image_latent": "image",
        "components": {
            "image_encoder": {"file": "image_encoder.onnx",
                              "inputs": {"image": tensor("pixel_values", "float32", ["B", 3, 224, 224])},
                              "outputs": {"image_embeds": tensor("image_embeds", "float32", ["B", 1, D])}},
            "vae_encoder": {"file": "vae_encoder.onnx",
                            "inputs": {"image": tensor("images", "float32", ["N", 3, "H", "W"])},
                            "outputs": {"latent": tensor("latent", "float32", lat)}},
            "denoiser": {"file": "unet.onnx",
                         "inputs": {"latent": tensor("sample", "float32", lat),
                                    "timestep": tensor("timestep", "float32", []),
                                    "image_latent": tensor("image_latents", "float32", ["B", C, "h", "w"]),
                                    "image_embeds": tensor("image_embeds", "float32", ["B", 1, D]),
                                    "added_time_ids": tensor("added_time_ids", "float32", ["B", 3])},
                         "outputs": {"prediction": tensor("out_sample", "float32", lat)}},
            "vae_decoder": {"file": "vae_decoder.onnx",
                            "inputs": {"latent": tensor("latent", "float32", lat)},
                            "outputs": {"video": tensor("images", "float32", ["N", 3, "H", "W"])}},
        },
    }


def sine_fill(*shape):
    """float32(sin(0.01 * i)) for the flat index i: a large reference input
    the tests rebuild instead of reading it from a file."""
    n = int(np.prod(shape))
    t = torch.from_numpy(np.sin(0.01 * np.arange(n, dtype=np.float64)).astype(np.float32).reshape(shape))
    t.sine_fill = True
    return t


class Reference:
    """Raw little-endian arrays and their index."""

    def __init__(self, root):
        self.root = os.path.join(root, "reference")
        os.makedirs(self.root, exist_ok=True)
        self.index = {}

    def add(self, comp, inputs, outputs):
        entry = {"inputs": {}, "outputs": {}}
        for kind, values in (("inputs", inputs), ("outputs", outputs)):
            for name, v in values.items():
                if getattr(v, "sine_fill", False):  # large input: the formula, not the values
                    entry[kind][name] = {"fill": "sine", "dtype": "float32", "shape": list(v.shape)}
                    continue
                a = v.detach().cpu().numpy()
                dtype = {np.dtype("float32"): "float32", np.dtype("int64"): "int64"}[a.dtype]
                file = f"{comp}.{kind[:-1]}.{name}.bin"
                a.astype(a.dtype.newbyteorder("<")).tofile(os.path.join(self.root, file))
                entry[kind][name] = {"file": file, "dtype": dtype, "shape": list(a.shape)}
        self.index[comp] = entry

    def write(self, tokens):
        if tokens is not None:
            self.index["tokens"] = tokens
        with open(os.path.join(self.root, "index.json"), "w") as f:
            json.dump(self.index, f, indent=1, sort_keys=True)
            f.write("\n")


def export_svd(out):
    img, enc, den, dec = ImageEncoder().eval(), FrameVAEEncoder().eval(), SVDDenoiser().eval(), FrameVAEDecoder().eval()
    with torch.no_grad():
        for p in den.head.parameters():
            p.mul_(8)
    g = torch.Generator().manual_seed(2)
    ref = Reference(out)
    with torch.no_grad():
        pix = sine_fill(1, 3, 224, 224)
        export(img, (pix,), os.path.join(out, "image_encoder.onnx"), ["pixel_values"], ["image_embeds"],
               {"pixel_values": {0: "B"}, "image_embeds": {0: "B"}})
        embeds = img(pix)
        ref.add("image_encoder", {"pixel_values": pix}, {"image_embeds": embeds})

        frames = torch.rand(2, 3, 16, 24, generator=g) * 2 - 1
        iaxes = {"images": {0: "N", 2: "H", 3: "W"}, "latent": {0: "N", 2: "h", 3: "w"}}
        export(enc, (frames,), os.path.join(out, "vae_encoder.onnx"), ["images"], ["latent"], iaxes)
        ref.add("vae_encoder", {"images": frames}, {"latent": enc(frames)})

        # The guided pair: B = 2 clips of 3 frames, N = 6.
        x = torch.randn(6, C, 8, 12, generator=g)
        y = torch.randn(2, C, 8, 12, generator=g)
        t = torch.tensor(0.25 * math.log(80.0))
        emb2 = torch.cat([embeds, torch.zeros_like(embeds)])
        ids = torch.tensor([[5.0, 127.0, 0.02], [5.0, 127.0, 0.02]])
        args = (x, t, y, emb2, ids)
        names = ["sample", "timestep", "image_latents", "image_embeds", "added_time_ids"]
        tmp = os.path.join(out, "unet.tmp.onnx")
        laxes = {0: "N", 2: "h", 3: "w"}
        export(den, args, tmp, names, ["out_sample"],
               {"sample": laxes, "image_latents": {0: "B", 2: "h", 3: "w"}, "image_embeds": {0: "B"},
                "added_time_ids": {0: "B"}, "out_sample": laxes})
        # Weights into an external data file, as for a UNet of several GB.
        m = onnx.load(tmp)
        os.remove(tmp)
        onnx.save_model(m, os.path.join(out, "unet.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="unet.onnx.data", size_threshold=0)
        ref.add("denoiser", dict(zip(names, args)), {"out_sample": den(*args)})

        lat = torch.randn(2, C, 2, 3, generator=g)
        export(dec, (lat,), os.path.join(out, "vae_decoder.onnx"), ["latent"], ["images"], iaxes)
        ref.add("vae_decoder", {"latent": lat}, {"images": dec(lat)})
    ref.write(None)
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(manifest_svd("torch " + torch.__version__.split("+")[0]), f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", help="package folder to write")
    ap.add_argument("--family", choices=["wan", "svd"], default="wan", help="which model family's layout")
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    if args.family == "svd":
        export_svd(out)
        return
    sp = train_tokenizer(out)
    vocab = sp.get_piece_size()

    text, enc, den, dec = TextEncoder(vocab).eval(), VAEEncoder().eval(), Denoiser().eval(), VAEDecoder().eval()
    # Larger weights than the default init keep the untrained outputs lively.
    with torch.no_grad():
        for p in den.head.parameters():
            p.mul_(8)
    g = torch.Generator().manual_seed(1)
    ref = Reference(out)
    with torch.no_grad():
        # Text: two prompts (conditional and empty), ids exactly as the tokenizer
        # gives them (</s> appended, padded with <pad> = 0 to L).
        prompts = ["a cat walks by the river", ""]
        ids = torch.zeros(2, L, dtype=torch.int64)
        mask = torch.zeros(2, L, dtype=torch.int64)
        pieces = []
        for i, p in enumerate(prompts):
            tok = sp.encode(p)[: L - 1] + [sp.eos_id()]
            pieces.append(tok)
            ids[i, : len(tok)] = torch.tensor(tok)
            mask[i, : len(tok)] = 1
        export(text, (ids, mask), os.path.join(out, "text_encoder.onnx"), ["input_ids", "attention_mask"],
               ["last_hidden_state"], {"input_ids": {0: "B"}, "attention_mask": {0: "B"}, "last_hidden_state": {0: "B"}})
        hidden = text(ids, mask)
        ref.add("text_encoder", {"input_ids": ids, "attention_mask": mask}, {"last_hidden_state": hidden})

        video = torch.rand(1, 3, 5, 16, 24, generator=g) * 2 - 1
        vaxes = {"video": {0: "B", 2: "F", 3: "H", 4: "W"}, "latent": {0: "B", 2: "T", 3: "h", 4: "w"}}
        export(enc, (video,), os.path.join(out, "vae_encoder.onnx"), ["video"], ["latent"], vaxes)
        ref.add("vae_encoder", {"video": video}, {"latent": enc(video)})

        x = torch.randn(2, C, 3, 8, 12, generator=g)
        y = torch.randn(2, C, 3, 8, 12, generator=g)
        t = torch.tensor([900.0, 900.0])
        laxes = {0: "B", 2: "T", 3: "h", 4: "w"}
        export(den, (x, t, hidden, y), os.path.join(out, "denoiser.onnx"), ["x", "t", "context", "y"], ["v"],
               {"x": laxes, "t": {0: "B"}, "context": {0: "B"}, "y": laxes, "v": laxes})
        ref.add("denoiser", {"x": x, "t": t, "context": hidden, "y": y}, {"v": den(x, t, hidden, y)})

        lat = torch.randn(1, C, 2, 2, 3, generator=g)
        export(dec, (lat,), os.path.join(out, "vae_decoder.onnx"), ["latent"], ["video"], vaxes)
        ref.add("vae_decoder", {"latent": lat}, {"video": dec(lat)})

    ref.write({"prompts": prompts, "ids": pieces})
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(manifest("torch " + torch.__version__.split("+")[0]), f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
