"""What tests share: serving an adapter against its emulator, waiting, the content loaded once."""
