"""Subcommands of the ``tenas`` CLI, one module each (discovered by :mod:`tenas.cli`)."""
