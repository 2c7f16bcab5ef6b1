"""Gold sets; ``narratives/`` is installed as package data of ``pmon.eval`` (the sample-media generator reads it)."""
