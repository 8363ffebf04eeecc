#!/usr/bin/env python3
"""Reference ECAPA-TDNN voiceprints from SpeechBrain's own code, with random weights.

The real speechbrain/spkrec-ecapa-voxceleb weights cannot be downloaded here, so parity is proven on a
model of the same class with random weights and random BatchNorm statistics:

  1. build speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN (eval mode), randomise every parameter and
     BatchNorm statistic, save its state dict with torch.save as SpeechBrain's checkpointer does
     (embedding_model.ckpt);
  2. per file: SpeechBrain's Fbank(n_mels=80) -> InputNormalization(sentence, std_norm=False) ->
     forward, exactly as EncoderClassifier.encode_batch runs the pretrained model.

--size small writes the committed fixture (test/fixtures/ecapa/); --size full builds the real model's
shape (channels 1024/3072, 192-d) for the local full-size check and for bench:speed. A JSON object with
the voiceprints (and the first file's features) is written beside the checkpoint.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import types
from pathlib import Path

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
import soundfile  # noqa: E402
import torch  # noqa: E402

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parents[1]
AUDIO_DIR = REPO_ROOT.parent / "shared" / "audio"

# Fixture files: clean and far-field LibriSpeech, and the conversation (the longest input).
DEFAULT_FILES = [
    "librispeech-train-clean-100/103-1240-0000.wav",
    "librispeech-train-clean-100/1034-121119-0000.wav",
    "librispeech-train-clean-100/1040-133433-0000.wav",
    "librispeech-room/1069-133699-0000.wav",
    "librispeech-room/1081-125237-0000.wav",
    "conversation/sample.wav",
]

SIZES = {
    # channels, attention_channels, se_channels, lin_neurons
    "small": ([32, 32, 32, 32, 96], 16, 16, 24),
    # hyperparams.yaml of speechbrain/spkrec-ecapa-voxceleb
    "full": ([1024, 1024, 1024, 1024, 3072], 128, 128, 192),
}

SHIMS: list[str] = []


def import_speechbrain():
    # SpeechBrain's dataio imports torchaudio only to pick an audio backend; nothing used here needs it,
    # and torchaudio has no wheel for this torch. A stub with a version keeps the import working.
    try:
        import torchaudio  # noqa: F401
    except ModuleNotFoundError:
        stub = types.ModuleType("torchaudio")
        stub.__version__ = "2.9.0"
        stub.list_audio_backends = lambda: ["soundfile"]
        sys.modules["torchaudio"] = stub
        SHIMS.append("torchaudio stub (version and backend list only)")
    import speechbrain
    from speechbrain.lobes.features import Fbank
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    from speechbrain.processing.features import InputNormalization

    return speechbrain, ECAPA_TDNN, Fbank, InputNormalization


def randomise(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 1
            if name.endswith("norm.weight"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            elif name.endswith("norm.bias") or p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(fan_in))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.2 * torch.randn(b.shape, generator=g))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
            elif name.endswith("num_batches_tracked"):
                b.fill_(1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--audio-dir", type=Path, default=AUDIO_DIR)
    parser.add_argument("--out-dir", type=Path, help="default: test/fixtures/ecapa (small) or .tmp/ecapa-full (full)")
    parser.add_argument("--speed", type=int, default=0, metavar="REPEATS", help="also time each stage (1 thread)")
    parser.add_argument("files", nargs="*", default=DEFAULT_FILES, help="paths relative to --audio-dir")
    args = parser.parse_args()
    out_dir = args.out_dir or REPO_ROOT / ("test/fixtures/ecapa" if args.size == "small" else ".tmp/ecapa-full")
    out_dir.mkdir(parents=True, exist_ok=True)

    torch.set_num_threads(1)
    speechbrain, ECAPA_TDNN, Fbank, InputNormalization = import_speechbrain()
    channels, attention, se, lin = SIZES[args.size]
    model = ECAPA_TDNN(
        80,
        channels=channels,
        kernel_sizes=[5, 3, 3, 3, 1],
        dilations=[1, 2, 3, 4, 1],
        attention_channels=attention,
        se_channels=se,
        lin_neurons=lin,
    )
    randomise(model, args.seed)
    model.eval()
    ckpt = out_dir / "embedding_model.ckpt"
    torch.save(model.state_dict(), ckpt)

    fbank = Fbank(n_mels=80)
    norm = InputNormalization(norm_type="sentence", std_norm=False)
    fbank.eval()
    norm.eval()

    result: dict = {
        "generator": "scripts/reference/ecapa_reference.py",
        "size": args.size,
        "seed": args.seed,
        "versions": {"speechbrain": speechbrain.__version__, "torch": torch.__version__, "numpy": np.__version__},
        "shims": SHIMS,
        "checkpointSha256": hashlib.sha256(ckpt.read_bytes()).hexdigest(),
        "files": {},
    }
    timings = {"fbank": 0.0, "norm": 0.0, "model": 0.0}
    audio_seconds = 0.0
    with torch.no_grad():
        for i, rel in enumerate(args.files):
            # As SpeechBrain's load_audio: int16 PCM scaled by 1/32768.
            data, sr = soundfile.read(str(args.audio_dir / rel), dtype="float32")
            assert sr == 16000, f"{rel}: {sr} Hz"
            wav = torch.from_numpy(data)[None]
            lens = torch.ones(1)
            feats = fbank(wav)
            normed = norm(feats, lens)
            emb = model(normed, lens)[0, 0]
            entry = {"samples": int(wav.shape[1]), "embedding": [round(float(x), 7) for x in emb]}
            if i == 0:
                # Features of the first 0.5 s alone (its own top_db and mean): a small front-end check.
                head = fbank(wav[:, :8000])
                entry["head"] = {
                    "samples": 8000,
                    "fbank": [[round(float(x), 4) for x in row] for row in head[0]],
                    "normalised": [[round(float(x), 4) for x in row] for row in norm(head, lens)[0]],
                }
            result["files"][rel] = entry
            for _ in range(args.speed):
                t0 = time.perf_counter()
                feats = fbank(wav)
                t1 = time.perf_counter()
                normed = norm(feats, lens)
                t2 = time.perf_counter()
                model(normed, lens)
                t3 = time.perf_counter()
                timings["fbank"] += t1 - t0
                timings["norm"] += t2 - t1
                timings["model"] += t3 - t2
                audio_seconds += wav.shape[1] / 16000
    if args.speed:
        result["msPerAudioSecond"] = {k: 1000 * v / audio_seconds for k, v in timings.items()}
    out = out_dir / "reference.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({"out": str(out), "checkpoint": str(ckpt), "bytes": ckpt.stat().st_size, **{k: v for k, v in result.items() if k not in ("files",)}}))


if __name__ == "__main__":
    main()
