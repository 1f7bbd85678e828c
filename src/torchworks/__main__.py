"""``python -m torchworks`` is the same as the ``torchworks`` command."""

from torchworks.cli.main import main

if __name__ == "__main__":
    main()
