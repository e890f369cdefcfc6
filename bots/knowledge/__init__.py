"""Parsing, chunking and retrieval of a bot's knowledge documents."""
