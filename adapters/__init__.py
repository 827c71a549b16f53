"""One module per platform, translating the wire to core types and back; nothing else."""
