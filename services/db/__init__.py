"""The db service: the data service that owns the PostgreSQL schema."""
