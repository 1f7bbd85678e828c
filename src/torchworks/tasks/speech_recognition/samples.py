"""The speech-recognition samples: spoken digits shipped in this package, and their generator.

Registering costs nothing: the shipped clips are only unzipped when first used, and the generator
(numpy, espeak-ng, audio encoders, in :mod:`~torchworks.tasks.speech_recognition.spoken_digits`) is
imported only when ``torchworks data make spoken-digits`` runs.
"""

from __future__ import annotations

from pathlib import Path

from torchworks.datasets import SampleDataset, materialize_once, packaged, register_sample
from torchworks.errors import DataError

PACKAGED_ZIP = "spoken_digits.zip"


def materialize_spoken_digits(target: Path) -> Path:
    """Extract the packaged sample into ``target`` once; a finished copy is marked by ``.complete``.

    Returns:
        ``target``, the folder holding ``manifest.csv`` and ``clips/``.
    """
    if (target / ".complete").exists():
        return target
    import zipfile

    archive = packaged(__package__, PACKAGED_ZIP)
    if not archive.is_file():
        raise DataError("the packaged spoken-digits sample is missing", expected=f"the file {archive}",
                        got="no such file", hint="reinstall torchworks, or make a dataset with make_spoken_digits")

    def write(folder: Path) -> None:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(folder)
            clips = sum(1 for name in bundle.namelist() if name.startswith("clips/"))
        (folder / ".complete").write_text(f"{clips} clips\n")

    materialize_once(target, write)
    return target


SPOKEN_DIGITS = register_sample(
    SampleDataset(
        name="spoken-digits",
        task="speech-recognition",
        description="1,200 spoken digit sequences (1-7 digits), many espeak-ng voices, noise; test voices held out",
        source="synthesised with espeak-ng, shipped as Opus; `torchworks data make spoken-digits` makes more",
        materialize=materialize_spoken_digits,
        generator="torchworks.tasks.speech_recognition.spoken_digits:make_spoken_digits",
    )
)
