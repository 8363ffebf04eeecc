"""Shared setup for the Resemblyzer reference scripts.

Applies two import shims so resemblyzer==0.1.4 runs on a current Python stack without
downgrading anything, and resolves repo-relative paths (never absolute /work paths).
"""

from __future__ import annotations

import importlib.metadata
import sys
import types
from pathlib import Path

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parents[1]
# Shared audio lives beside the checkout (CI has shared/ next to the repo), see plan.
DEFAULT_AUDIO_DIR = REPO_ROOT.parent / "shared" / "audio" / "librispeech-train-clean-100"

SHIMS: list[str] = []


def _shim_pkg_resources() -> None:
    # webrtcvad 2.0.10 does `import pkg_resources` only to read its own version; setuptools>=81
    # no longer ships pkg_resources. A tiny stand-in backed by importlib.metadata is enough.
    try:
        import pkg_resources  # noqa: F401
    except ModuleNotFoundError:
        stub = types.ModuleType("pkg_resources")

        class _Dist:
            def __init__(self, name: str) -> None:
                self.version = importlib.metadata.version(name)

        stub.get_distribution = _Dist  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = stub
        SHIMS.append("pkg_resources stub (importlib.metadata) for webrtcvad 2.0.10")


def _shim_scipy_morphology() -> None:
    # resemblyzer/audio.py imports scipy.ndimage.morphology, which newer scipy removes;
    # the same binary_dilation lives in scipy.ndimage.
    try:
        import scipy.ndimage.morphology  # noqa: F401
    except ModuleNotFoundError:
        import scipy.ndimage

        sys.modules["scipy.ndimage.morphology"] = scipy.ndimage
        SHIMS.append("scipy.ndimage.morphology -> scipy.ndimage alias")


def load_resemblyzer():
    """Import resemblyzer after applying the shims; returns (resemblyzer module, audio module)."""
    import warnings

    _shim_pkg_resources()
    # scipy 1.17 still has ndimage.morphology but warns on import; keep stdout/stderr clean.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _shim_scipy_morphology()
        import resemblyzer
        from resemblyzer import audio
    return resemblyzer, audio


def list_audio_files(audio_dir: Path) -> list[Path]:
    """Files listed in speakers.tsv (column `file`, relative to the audio root) in listed order."""
    tsv = audio_dir / "speakers.tsv"
    if not tsv.is_file():
        raise SystemExit(f"speakers.tsv not found in {audio_dir} (pass --audio-dir)")
    lines = tsv.read_text().splitlines()
    header = lines[0].split("\t")
    col = header.index("file")
    files = []
    for line in lines[1:]:
        if not line.strip():
            continue
        name = Path(line.split("\t")[col]).name
        path = audio_dir / name
        if not path.is_file():
            raise SystemExit(f"listed file missing: {path}")
        files.append(path)
    return files


def versions() -> dict[str, str]:
    return {
        name: importlib.metadata.version(name)
        for name in ("torch", "resemblyzer", "librosa", "numpy", "scipy", "webrtcvad", "soundfile", "soxr")
    }
