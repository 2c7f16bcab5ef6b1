"""Alert rules (spike, spread, emerging, silence), digests and their delivery."""
