"""The ``zonegate`` command line."""
