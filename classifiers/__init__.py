"""Models that read text: language identification, multilingual encoders, the narrative classifier."""
