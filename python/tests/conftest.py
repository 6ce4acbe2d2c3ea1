"""pytest's own ``pytester`` fixture, for the tests that run an inner pytest session with the plugin's
options (``test_plugin.py``); the suite otherwise uses only what the installed plugin gives."""

pytest_plugins = ["pytester"]
