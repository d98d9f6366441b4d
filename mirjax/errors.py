"""The one exception type for errors a user can fix (a bad config, a missing or unreadable file, bad data, a
dataset that is not there). The command line prints such an error as one line and exits with status 2; any other
exception is a bug and keeps its traceback. It subclasses ValueError so that callers catching ValueError still
catch it."""


class UserError(ValueError):
    """Something the user can fix; the message is one line saying what and where."""
