"""`python -m imgsearch_core`: the command line lives in imgsearch_core.cli.main."""
import sys

from imgsearch_core.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
