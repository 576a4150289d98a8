"""Root conftest: the shared service fixtures apply to every package's tests."""

pytest_plugins = ["testsupport.services"]
