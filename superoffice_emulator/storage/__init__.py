"""Storage: the SQLAlchemy schema, the database life cycle, fixtures, and the per-tenant store."""
