"""The store: the database (SQLite or PostgreSQL, all SQL lives here), the writer lock, and the files of published runs."""
