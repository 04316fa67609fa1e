"""Privacy floors and modes: what an aggregate may show, and whether a viewer may see one
person's figures at all (works-council mode, the analyst role). Built on the access
policy of sync/org/access.py; every surface asks here before showing a group figure.

(Interface agreed between the privacy and adoption work; the privacy side fills it in.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GroupFloor:
    """The smallest group an aggregate may describe to a viewer who may not see each of
    its people on their own (`[privacy] min_group_size`)."""

    min_group_size: int = 5

    def hides(self, people: int) -> bool:
        """True when a group of `people` is too small to show (said as "fewer than N
        people", never as figures)."""
        return people < self.min_group_size
