"""Errors a user can fix (bad file, bad option) are `UserError`: the CLI prints them as one line and
exits with status 2, no traceback. Anything else is a bug and keeps its traceback."""


class UserError(Exception):
    """A problem with the user's input, files or environment, explained in the message."""
