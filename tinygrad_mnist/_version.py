"""The package's version, in this one place: setup.cfg reads it (`attr:`), and so does the code."""
VERSION = "0.1.0"
