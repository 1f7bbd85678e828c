"""Building the spoken-digits sample that ships inside the package: the clips of
:func:`~torchworks.tasks.speech_recognition.spoken_digits.make_spoken_digits`, encoded as Opus at the best quality
that fits the size budget, zipped with their manifest. Maintainers run it when the sample changes,
with ``build_packaged_sample(Path("src/torchworks/tasks/speech_recognition/data/spoken_digits.zip"))``.
"""

from __future__ import annotations

import bisect
import functools
import io
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from torchworks.tasks.speech_recognition.spoken_digits import (
    make_spoken_digits,
    plan_spoken_digits,
    run_parallel,
    write_audio,
    write_manifest,
)
from torchworks.errors import ConfigError

_PACKAGED_LEVELS = (0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0)  # Opus compression, best quality first


def build_packaged_sample(zip_path: Path, n: int = 1200, seed: int = 2026, max_bytes: int = 6_000_000,
                          progress: bool = True) -> Path:
    """Make the spoken-digits sample that ships with torchworks: a zip of Opus clips and a manifest.

    The clips are made once as WAV, then encoded to Opus at the best quality (lowest compression
    level) whose zip fits in ``max_bytes``: predicted from every tenth clip, then checked.

    Args:
        zip_path: Where to write the zip (replaced atomically if it exists).
        n: How many clips.
        seed: Decides every clip.
        max_bytes: The most the zip may weigh.
        progress: Show progress bars on stderr.

    Returns:
        ``zip_path``.

    Raises:
        ConfigError: Even the smallest Opus encoding of ``n`` clips does not fit in ``max_bytes``.
    """
    zip_path = Path(zip_path)
    plans = plan_spoken_digits(n, seed)
    with tempfile.TemporaryDirectory(prefix="spoken-digits-") as tmp:
        source = make_spoken_digits(Path(tmp) / "wav", n=n, seed=seed, audio_format="wav", progress=progress)
        opus = Path(tmp) / "ogg"
        (opus / "clips").mkdir(parents=True)
        write_manifest(opus / "manifest.csv", plans, "ogg")
        wavs = [source / plan.path("wav") for plan in plans]
        # What the zip adds besides the clips: the manifest, and a local and a central header per file.
        overhead = (opus / "manifest.csv").stat().st_size + sum(76 + 2 * len(plan.path("ogg")) for plan in plans)
        partial = Path(tmp) / "sample.zip"
        budget = 0.97 * (max_bytes - overhead)  # the estimate from a tenth of the clips is not exact
        first = bisect.bisect_left(_PACKAGED_LEVELS, True, key=lambda level: _predicted_bytes(wavs, level) <= budget)
        for level in _PACKAGED_LEVELS[first:]:
            jobs = [functools.partial(_encode_opus, wav, level, opus / plan.path("ogg"))
                    for wav, plan in zip(wavs, plans)]
            run_parallel(jobs, f"encoding Opus at compression level {level}", progress)
            _zip_folder(opus, partial)
            if partial.stat().st_size <= max_bytes:
                zip_path.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(partial, zip_path)
                return zip_path
    raise ConfigError(f"{n} clips do not fit in the packaged sample", expected=f"at most {max_bytes} bytes",
                      got="more, even at the smallest Opus encoding", hint="lower n or raise max_bytes")


def _predicted_bytes(wavs: Sequence[Path], level: float) -> float:
    """The Opus bytes of all ``wavs`` at ``level``, estimated from every tenth one."""
    sample = list(wavs[::10])
    sizes = run_parallel([functools.partial(_encode_opus, wav, level) for wav in sample], "", progress=False)
    return sum(sizes) * len(wavs) / len(sample)


def _encode_opus(wav: Path, level: float, target: Path | None = None) -> int:
    """Encode ``wav`` as Opus into ``target`` (or only in memory); the encoded size in bytes."""
    import soundfile as sf

    audio, rate = sf.read(wav, dtype="float32")
    buffer = io.BytesIO()
    write_audio(buffer, audio, rate, "ogg", level)
    if target is not None:
        target.write_bytes(buffer.getvalue())
    return buffer.getbuffer().nbytes


def _zip_folder(folder: Path, zip_path: Path) -> None:
    """``manifest.csv`` then the clips, stored (Opus is already compressed) with fixed timestamps."""
    files = [folder / "manifest.csv", *sorted((folder / "clips").iterdir())]
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED) as archive:
        for file in files:
            entry = zipfile.ZipInfo(file.relative_to(folder).as_posix(), date_time=(2026, 1, 1, 0, 0, 0))
            archive.writestr(entry, file.read_bytes())
