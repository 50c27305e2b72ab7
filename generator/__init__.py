"""Markdown flashcards to an Anki package whose notes update in place."""

__version__ = "0.1.0"
