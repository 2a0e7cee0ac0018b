"""What the tests share besides fixtures: tiny trained trials and sweeps, the browser, the S3 server, processes.

Fixtures live in tests/conftest.py and are found by pytest; test modules import plain helpers from here and never
from each other.
"""
