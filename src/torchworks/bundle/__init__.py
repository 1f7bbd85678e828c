"""The model bundle: ``model.safetensors`` + ``bundle.json`` (+ metrics, report, plots), no pickle."""

from torchworks.bundle.io import Bundle, load_weights, read_bundle, save_weights, write_manifest

__all__ = ["Bundle", "load_weights", "read_bundle", "save_weights", "write_manifest"]
