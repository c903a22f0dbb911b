"""JSON schemas of composer's own files, read with importlib.resources."""
