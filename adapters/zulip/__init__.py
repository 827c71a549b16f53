"""The Zulip adapter: `adapter` (lifecycle and sending), and the modules beside it."""
