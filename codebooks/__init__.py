"""The narrative codebooks (``iskp/``), installed as package data of ``pmon.codebooks``; ``tools/`` is not installed."""
