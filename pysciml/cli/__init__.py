"""Command-line interface ``pysciml`` (see ``pysciml --help``)."""
