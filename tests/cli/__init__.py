"""Tests of loader/cli/: the commands, their help, their errors and exit codes."""
