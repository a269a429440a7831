"""The commands of the `livestyle` CLI, one module each; livestyle.cli parses and dispatches."""
