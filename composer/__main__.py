"""`python -m composer` runs the command line."""

from composer.cli import entry

if __name__ == "__main__":
    entry()
