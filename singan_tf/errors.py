"""The one exception type the command line turns into a one-line message."""


class SinganError(Exception):
    """A problem with the user's input or files, as opposed to a bug in singan-tf.

    The CLI prints these as a single line and exits with code 2; anything else is a bug and keeps
    its traceback.
    """
