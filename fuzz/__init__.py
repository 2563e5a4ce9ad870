"""Coverage-guided fuzzing of the kind validators (``nox -s fuzz``)."""
