"""Chat rules. Import from the submodules: conversations, engine, feedback."""
