"""Test helpers shared by every test folder (importable as `helpers`: tests/ is on sys.path)."""
