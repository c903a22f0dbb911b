"""`python -m composer` runs the command line."""

from composer.cli import main

if __name__ == "__main__":
    main()
