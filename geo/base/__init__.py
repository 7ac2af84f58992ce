"""Shared by every stage: settings (the only reader of the environment), errors and their HTTP statuses, messages (vi/en), the vocabulary (units, levels, export formats, column names)."""
