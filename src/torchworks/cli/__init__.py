"""The ``torchworks`` command line: parse -> config -> engine. No logic of its own."""
