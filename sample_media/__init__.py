"""Synthetic demo media (feeds, article pages, a Telegram export, file drops) rendered from the gold sentences."""

from pmon.sample_media.build import GOLD_DIR, VARIETIES, Manifest, SampleMediaError, render

__all__ = ["GOLD_DIR", "VARIETIES", "Manifest", "SampleMediaError", "render"]
