"""Typed run configuration: YAML files, ``key=value`` overrides and REST JSON become the same objects."""

from torchworks.config.loading import parse_overrides, resolve_config
from torchworks.config.schema import TrainConfig

__all__ = ["TrainConfig", "parse_overrides", "resolve_config"]
