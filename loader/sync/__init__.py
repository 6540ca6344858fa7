"""The sync: plan (diff an audience against a list's state, in SQL) then apply (Klaviyo calls)."""

from loader.sync.engine import PushOptions, PushResult, push

__all__ = ["PushOptions", "PushResult", "push"]
