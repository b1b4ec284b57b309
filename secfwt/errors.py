"""The one error type for bad user input.

Raised where input is validated (parameters, links, profiles, records and baseline files); the
command line prints its message as one line and exits 2.  Any other exception is a bug or an
environment failure: it keeps its traceback and exits 1.
"""


class InputError(ValueError):
    """Bad input from the user: a parameter, a link, a profile name, a file that is not records."""
