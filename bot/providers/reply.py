"""What every successful provider call returns.

The RequestId travels with the result because operators quote it to the provider's support, and the
services layer records it next to the change it applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ProviderReply(Generic[T]):
    request_id: str
    result: T
    action: str
