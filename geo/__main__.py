"""Allow ``python -m geo``."""

from geo.cli import entry

if __name__ == "__main__":
    entry()
