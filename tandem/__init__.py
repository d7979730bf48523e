"""Composition root: settings in one place and the `tandem` command line."""
