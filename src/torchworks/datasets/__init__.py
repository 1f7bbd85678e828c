"""Sample datasets and generators, addressable by name (``data=digits``): the shared plumbing.

Each task registers its own samples (in ``tasks/<task>/samples.py``, imported with the task). A
sample knows which task it is for, how to materialise itself on disk (once, atomically, in the
torchworks data home) and which settings suit it (for example a small CNN for 8x8 digits).

Nothing here imports a task: :func:`get_sample` and :func:`list_samples` see the samples of the
tasks loaded so far, so callers that want every sample load the tasks first
(``torchworks.tasks.load_builtin_tasks()``; ``torchworks.engine.catalog`` does).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SampleDataset:
    """A named dataset that ships with torchworks or with one of its dependencies."""

    name: str
    task: str
    description: str
    source: str
    materialize: Callable[[Path], Path]
    defaults: dict[str, Any] = field(default_factory=dict)
    # makes a fresh copy on demand (`torchworks data make`): a function, or "module:function" so that a
    # generator with heavy imports loads only when it runs
    generator: Callable[..., Path] | str | None = None
    # shorter names that also reach the sample (``data=scenes``); a path of that name, when one exists,
    # is read instead (``torchworks data make detection-scenes out=scenes`` then ``data=scenes``)
    aliases: tuple[str, ...] = ()

    def path(self) -> Path:
        """Materialise the dataset (once) and return where it lives."""
        return self.materialize(data_home() / self.name)

    def generator_function(self) -> Callable[..., Path] | None:
        """The generator, imported now when it was registered as ``"module:function"``."""
        if isinstance(self.generator, str):
            module, _, name = self.generator.partition(":")
            return getattr(importlib.import_module(module), name)
        return self.generator


_SAMPLES: dict[str, SampleDataset] = {}
_ALIASES: dict[str, str] = {}  # alias -> sample name


def data_home() -> Path:
    """Where sample datasets are materialised: ``$TORCHWORKS_HOME/datasets`` (default ~/.cache/torchworks)."""
    root = os.environ.get("TORCHWORKS_HOME") or Path.home() / ".cache" / "torchworks"
    return Path(root) / "datasets"


def materialize_once(target: Path, write: Callable[[Path], None]) -> None:
    """Fill the folder ``target`` by ``write(folder)`` atomically: into a temporary sibling, then a
    rename, so a reader never sees a half-written dataset. Callers check for a finished copy first."""
    import shutil
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():  # a copy left unfinished by an interrupted run
        shutil.rmtree(target, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:  # another process finished first; its copy is as good as ours
        shutil.rmtree(staging, ignore_errors=True)


def refuse_existing(out: Path, what: str) -> None:
    """Nothing of the user's is overwritten: an existing file, or a folder with anything in it, stops a
    generator writing ``what`` (``"the spoken-digits dataset"``) into ``out``.

    Raises:
        DataError: ``out`` exists and is not an empty folder.
    """
    from torchworks.errors import DataError

    if out.is_dir() and not any(out.iterdir()):
        return
    if out.exists() or out.is_symlink():
        kind = "a folder that is not empty" if out.is_dir() else "an existing file"
        raise DataError(f"will not write {what} into '{out}'", expected="a new or empty folder", got=kind,
                        hint="choose another out= or delete it first")


def packaged(package: str, name: str) -> Path:
    """The path of the data file ``name`` shipped in the ``data/`` folder of ``package``
    (``packaged("torchworks.tasks.text_classification", "tickets.csv")``)."""
    from importlib import resources

    return Path(str(resources.files(package).joinpath("data", name)))


def register_sample(sample: SampleDataset) -> SampleDataset:
    """Make ``sample`` addressable by name (and by its aliases)."""
    _SAMPLES[sample.name] = sample
    for alias in sample.aliases:
        _ALIASES[alias] = sample.name
    return sample


def get_sample(name: str) -> SampleDataset | None:
    """The sample called ``name`` among those registered, or None when ``name`` is not a sample (so it is
    a path). An alias names the sample unless a file or folder of that name exists."""
    if name in _ALIASES and name not in _SAMPLES and not Path(name).expanduser().exists():
        return _SAMPLES[_ALIASES[name]]
    return _SAMPLES.get(name)


def sample_or_path(data: str) -> Path:
    """The folder or file ``data`` names: a sample's cached copy (made now if it is not yet), or the path."""
    sample = get_sample(data)
    return sample.path() if sample is not None else Path(data).expanduser()


def check_data_name(data: str, task: str) -> None:
    """Refuse ``data=`` that names neither a sample nor an existing path but is a typo of a sample name
    of ``task`` (``data=tikets``), with a did-you-mean hint. Anything else is left to the task, which
    reads the path and says what is wrong with it.

    Raises:
        ConfigError: ``data`` is close to one of ``task``'s sample names.
    """
    from torchworks.errors import ConfigError, closest

    if data in _SAMPLES or data in _ALIASES or Path(data).expanduser().exists():
        return
    names = [sample.name for sample in _SAMPLES.values() if sample.task == task]
    match = closest(data, names) or closest(data.lower(), names)
    if match is not None:
        raise ConfigError(f"data '{data}' is neither a sample dataset nor an existing path",
                          expected=f"a sample name of {task} ({', '.join(sorted(names))}) or a path", got=data,
                          hint=f"did you mean '{match}'? (`torchworks data list` shows the samples)")


def list_samples() -> list[SampleDataset]:
    """All registered samples, sorted by task then name."""
    return sorted(_SAMPLES.values(), key=lambda s: (s.task, s.name))


def make_dataset(name: str, settings: dict[str, str]) -> Path:
    """Run the generator of sample ``name`` with ``key=value`` settings (typed by its signature)."""
    import inspect

    from torchworks.errors import ConfigError, did_you_mean

    sample = get_sample(name)
    makers = sorted(s.name for s in list_samples() if s.generator is not None)
    if sample is None or sample.generator is None:
        raise ConfigError(f"no generator for '{name}'", expected="one of: " + ", ".join(makers), got=name,
                          hint=did_you_mean(name, makers))
    generator = sample.generator_function()
    parameters = inspect.signature(generator).parameters
    arguments: dict[str, Any] = {}
    for key, text in settings.items():
        if key not in parameters:
            raise ConfigError(f"unknown setting '{key}' for {name}", expected=", ".join(parameters), got=key,
                              hint=did_you_mean(key, parameters))
        default = parameters[key].default
        kind = Path if key == "out" else type(default) if default is not inspect.Parameter.empty else str
        try:
            arguments[key] = (text.strip().lower() in ("1", "true", "yes", "on")) if kind is bool else kind(text)
        except ValueError:
            raise ConfigError(f"invalid value for '{key}'", expected=kind.__name__, got=repr(text)) from None
    if "out" not in arguments:
        raise ConfigError(f"`torchworks data make {name}` needs out=FOLDER", expected="out=FOLDER", got="nothing",
                          hint=f"for example: torchworks data make {name} out=data/{name}")
    return generator(**arguments)

