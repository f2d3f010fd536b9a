"""pytest (nbval) runs the exercises with their solutions; the generated student versions are meant to fail.

Their stubs raise NotImplementedError by design, so nbval must not collect them. tests/test_exercises.py
checks them instead: every stub fails its check cell with the checker's hint.
"""

collect_ignore = ["student"]
