"""Placeholder: replaced by the contract recorder below in the next step."""

from __future__ import annotations

from typing import Any


class ContractRecorder:
    def __init__(self) -> None:
        self.violations: list[str] = []

    def install(self) -> None:
        pass

    def uninstall(self) -> None:
        pass

    def report(self, reporter: Any) -> None:
        pass
