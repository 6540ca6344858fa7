"""Stand-in for dbt's `modules` context variable when SQLFluff renders the project."""

import datetime
import re

__all__ = ["datetime", "re"]
