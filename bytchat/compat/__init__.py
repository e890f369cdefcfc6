"""The APIs of the systems Bytchat replaces, each thin over the same services."""
