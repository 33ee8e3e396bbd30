"""What the commands share: the terminal (``out``, ``err``, ``safe``, ``fail``), the :class:`Context` every
command gets, CSV output, the summaries printed after reading input, and running a live source until stopped.

Nothing here imports a command or :mod:`netwarden.cli`: the imports point one way, from the root group down.
"""
