"""Layer 6, the command line: `python -m imgsearch_core COMMAND` (main), one module per command group."""
