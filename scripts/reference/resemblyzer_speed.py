#!/usr/bin/env python3
"""Python side of `npm run bench:speed`: per-stage timing of the Resemblyzer reference pipeline.

Stages (per file, best of N repeats, summed over files; single thread):
  decode   librosa.load(path, sr=None) (+ librosa.resample to 16 kHz if needed), as preprocess_wav does
  vad      audio.trim_long_silences on the volume-normalised wav (webrtcvad, mode 3)
  mel      audio.wav_to_mel_spectrogram on the wav zero-padded to the last partial, as embed_utterance does
  encoder  model forward on the batched 160-frame partial mels (torch.no_grad)
  embed    the whole encoder.embed_utterance(normalised wav) call, i.e. what a user calls
  embed_path  embed_utterance(preprocess_wav(path)): file to voiceprint with silence trimming
mel/encoder/embed use the untrimmed normalised wav. Prints ONE JSON object on stdout.
With --resample-file (repeatable), those files (e.g. 44.1 kHz stereo) are timed for decode only and reported
under "resample" (they do not enter the stage totals).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

# Must be set before numpy/torch load their thread pools.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

import reference_env  # noqa: E402

STAGES = ("decode", "vad", "mel", "encoder", "embed", "embed_path")


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        best = min(best, (time.perf_counter_ns() - start) / 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="WAV files (default: all files in speakers.tsv)")
    parser.add_argument("--audio-dir", type=Path, default=reference_env.DEFAULT_AUDIO_DIR)
    parser.add_argument("--repeats", "-n", type=int, default=3, help="best of N per file and stage")
    parser.add_argument(
        "--resample-file", action="append", type=Path, default=[], dest="resample_files",
        help="extra file timed for decode only (repeatable)",
    )
    args = parser.parse_args()
    if args.repeats < 1:
        raise SystemExit("--repeats must be >= 1")

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    resemblyzer, audio = reference_env.load_resemblyzer()
    import librosa

    encoder = resemblyzer.VoiceEncoder("cpu", verbose=False)
    encoder.eval()
    files = args.files or reference_env.list_audio_files(args.audio_dir)
    for f in [*files, *args.resample_files]:
        if not f.is_file():
            raise SystemExit(f"not a file: {f}")
    sr_target = audio.sampling_rate

    def decode(path: Path) -> np.ndarray:
        wav, sr = librosa.load(str(path), sr=None)
        if sr != sr_target:
            wav = librosa.resample(wav, orig_sr=sr, target_sr=sr_target)
        return wav

    def prepare(wav: np.ndarray):
        # Mirrors embed_utterance: slices with its defaults, zero-pad to the last slice stop.
        wav_slices, mel_slices = encoder.compute_partial_slices(len(wav), rate=1.3, min_coverage=0.75)
        stop = wav_slices[-1].stop
        padded = np.pad(wav, (0, stop - len(wav)), "constant") if stop >= len(wav) else wav
        return padded, mel_slices

    def forward(mels: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return encoder(torch.from_numpy(mels)).cpu().numpy()

    def run_file(path: Path, repeats: int) -> tuple[float, dict[str, float]]:
        ms: dict[str, float] = {}
        ms["decode"] = best_ms(lambda: decode(path), repeats)
        wav = decode(path)
        norm = audio.normalize_volume(wav, audio.audio_norm_target_dBFS, increase_only=True)
        ms["vad"] = best_ms(lambda: audio.trim_long_silences(norm), repeats)
        padded, mel_slices = prepare(norm)
        ms["mel"] = best_ms(lambda: audio.wav_to_mel_spectrogram(padded), repeats)
        mel = audio.wav_to_mel_spectrogram(padded)
        mels = np.array([mel[s] for s in mel_slices])
        ms["encoder"] = best_ms(lambda: forward(mels), repeats)
        ms["embed"] = best_ms(lambda: encoder.embed_utterance(norm), repeats)
        ms["embed_path"] = best_ms(lambda: encoder.embed_utterance(audio.preprocess_wav(path)), repeats)
        return len(wav) / sr_target, ms

    # Warm-up: first-call costs (lazy imports, FFT plans, allocator, torch kernels) stay out of the figures.
    run_file(files[0], 1)

    totals = dict.fromkeys(STAGES, 0.0)
    audio_seconds = 0.0
    wall = time.perf_counter()
    for path in files:
        seconds, ms = run_file(path, args.repeats)
        audio_seconds += seconds
        for stage in STAGES:
            totals[stage] += ms[stage]

    result = {
        "implementation": "python-resemblyzer",
        "versions": reference_env.versions(),
        "threads": 1,
        "repeats": args.repeats,
        "files": len(files),
        "audioSeconds": round(audio_seconds, 3),
        "stageMs": {s: round(v, 3) for s, v in totals.items()},
        "msPerAudioSecond": {s: round(v / audio_seconds, 4) for s, v in totals.items()},
        "benchWallSeconds": round(time.perf_counter() - wall, 2),
    }
    if args.resample_files:
        decode(args.resample_files[0])  # warm-up of the resampler
        resample_ms = 0.0
        resample_seconds = 0.0
        for path in args.resample_files:
            resample_ms += best_ms(lambda: decode(path), args.repeats)  # noqa: B023 - called at once
            resample_seconds += len(decode(path)) / sr_target
        result["resample"] = {
            "files": len(args.resample_files),
            "audioSeconds": round(resample_seconds, 3),
            "decodeMs": round(resample_ms, 3),
            "msPerAudioSecond": round(resample_ms / resample_seconds, 4),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
