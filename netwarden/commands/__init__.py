"""The ``netwarden`` commands: one module per command or group of commands (``ingest``, ``listen``, ``block``
...), each defining plain click commands that :mod:`netwarden.cli` registers on the root group.

What they share (terminal output, the context with settings and database, CSV output, summaries, running
until Ctrl-C) is in :mod:`netwarden.commands.shared`. A command module never imports :mod:`netwarden.cli`.
"""
