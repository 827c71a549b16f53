"""Onramp's storage: SQLModel tables, small query functions and Alembic migrations."""
