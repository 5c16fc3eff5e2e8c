"""Serving over HTTP: granian (RSGI) or werkzeug, the start-up checks, the guard, logging."""
