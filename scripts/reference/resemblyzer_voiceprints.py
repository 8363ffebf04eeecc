#!/usr/bin/env python3
"""Reference Resemblyzer voiceprints for the shared LibriSpeech utterances.

Writes test/fixtures/resemblyzer-reference.json with, per file:
  notrim      embed_utterance(normalize_volume(librosa.load(path, sr=None), -30, increase_only=True))
  trim        embed_utterance(preprocess_wav(path))   (volume norm + webrtcvad long-silence trimming)
  trimSamples samples left after preprocess_wav (16 kHz)
  samples     samples in the decoded file
The TypeScript port is checked against these numbers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

# Single-threaded BLAS/OpenMP: the machine is shared and results stay reproducible.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import reference_env  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio-dir", type=Path, default=reference_env.DEFAULT_AUDIO_DIR)
    parser.add_argument("--out", type=Path, default=reference_env.REPO_ROOT / "test" / "fixtures" / "resemblyzer-reference.json")
    args = parser.parse_args()

    torch.set_num_threads(1)
    resemblyzer, audio = reference_env.load_resemblyzer()
    import librosa

    encoder = resemblyzer.VoiceEncoder("cpu", verbose=False)
    weights = Path(resemblyzer.__file__).resolve().parent / "pretrained.pt"
    files = reference_env.list_audio_files(args.audio_dir)

    out_files: dict[str, dict] = {}
    for i, path in enumerate(files):
        # Same decode as resemblyzer.preprocess_wav: librosa.load(sr=None) then resample to 16 kHz
        # (a no-op for these 16 kHz files).
        wav, sr = librosa.load(str(path), sr=None)
        if sr != audio.sampling_rate:
            wav = librosa.resample(wav, orig_sr=sr, target_sr=audio.sampling_rate)
        notrim = encoder.embed_utterance(audio.normalize_volume(wav, audio.audio_norm_target_dBFS, increase_only=True))
        trimmed = audio.preprocess_wav(path)
        trim = encoder.embed_utterance(trimmed)
        out_files[path.name] = {
            "notrim": [round(float(x), 6) for x in notrim],
            "trim": [round(float(x), 6) for x in trim],
            "trimSamples": int(len(trimmed)),
            "samples": int(len(wav)),
        }
        print(f"[{i + 1}/{len(files)}] {path.name} cos(trim,notrim)={float(np.dot(notrim, trim)):.4f}", file=sys.stderr)

    doc = {
        "generator": "scripts/reference/resemblyzer_voiceprints.py (VoiceEncoder('cpu'), torch 1 thread)",
        "versions": reference_env.versions(),
        "weightsSha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "shims": reference_env.SHIMS,
        "files": out_files,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")

    cos = np.array([np.dot(f["notrim"], f["trim"]) for f in out_files.values()])
    print(
        f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(out_files)} files); "
        f"cos(trim,notrim) min={cos.min():.4f} mean={cos.mean():.4f} max={cos.max():.4f}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
