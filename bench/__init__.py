"""Speed benchmark of ShiftDC against plain generation and a naive pipeline (`python -m bench`)."""
