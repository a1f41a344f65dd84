"""One module per ``feasgym`` subcommand (see :mod:`feasgym.cli`)."""
