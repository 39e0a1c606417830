"""One module per ``slicer-embed`` verb, each with ``main(argv=None) -> int``."""
