"""Privacy floors and modes: what an aggregate may show, and whether a viewer may see one
person's figures at all (works-council mode, the analyst role). Built on the access
policy of sync/org/access.py; every surface asks here before showing a group figure.

The floor (`[privacy] min_group_size`, N): a figure summed over a group describes the
people in it the viewer may not see one by one (the group's *hidden* people). It is shown
only when that number is 0 (the viewer could see each figure anyway) or at least N.
Counting only hidden people closes the first subtraction: a manager in works-council mode
who may see two of six people individually would otherwise get the other four's total by
taking the two away; an analyst inside a group knows their own figures.

The second subtraction is between sums: a team total and a sub-team's total (in one answer
or in two: `/codex team` and `/codex team @lead`, an organisation's branch and that
branch's head's team) give, by difference, "the team minus the sub-team", which may be one
person. So every sum a viewer gets is a union of fixed *cells* (`SumCells`), a partition of
the people hidden from them into groups of at least N, made once per viewer from the
reporting tree: bottom up, the people below someone become a cell once they are N hidden
people, else they go up with that person to the next level; what is left at the top joins
the smallest cell. A sum is shown only when its hidden people are whole cells; then any
difference of two shown sums is whole cells as well, so at least N people. A team whose
head went up with a smaller group is not shown on its own ("fewer than N people" said,
with the reason), while the bigger team around it is.
What is hidden is said as "fewer than N people", never as figures.

Differences across periods (someone joining or leaving a group of N) are not closed: the
floor bounds what one period's answers reveal, as Viva Insights' does.

(Interface agreed between the privacy and adoption work.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sync.org.access import has_access, is_admin, policy_of
from sync.org.chart import OrgChart, load_org_chart, reporting_chain
from sync.store.models import Employee


@dataclass(frozen=True)
class GroupFloor:
    """The smallest group an aggregate may describe to a viewer who may not see each of
    its people on their own (`[privacy] min_group_size`)."""

    min_group_size: int = 5

    def hides(self, people: int) -> bool:
        """True when a group of `people` is too small to show (said as "fewer than N
        people", never as figures)."""
        return people < self.min_group_size

    def hides_hidden(self, hidden_people: int) -> bool:
        """True when a group with `hidden_people` people the viewer may not see one by one
        is too small to show: some, but fewer than the floor."""
        return 0 < hidden_people < self.min_group_size


def floor_of(admin_emails: Collection[str]) -> GroupFloor:
    """The floor of an AccessPolicy (or the default one for plain admin emails)."""
    return GroupFloor(policy_of(admin_emails).min_group_size)


def individually_visible(
    viewer: Employee | None, people: Iterable[Employee], admin_emails: Collection[str] = ()
) -> set[int]:
    """The ids of those of `people` whose own figures `viewer` may see: exactly
    access.may_view for each, in at most two queries however many people (a cohort or
    idle list of the organisation names only these). `admin_emails`: an AccessPolicy."""
    people = list(people)
    if viewer is None or not has_access(viewer):
        return set()
    if is_admin(viewer, admin_emails=admin_emails):
        return {person.id for person in people}
    own = {person.id for person in people if person.id == viewer.id}
    if viewer.is_analyst:
        return own
    policy = policy_of(admin_emails)
    below = {person.id for person in reporting_chain(viewer)}
    return own | {
        person.id for person in people if person.id in below and policy.shows_individually(person)
    }


def hidden_count(
    viewer: Employee | None, people: Sequence[Employee], admin_emails: Collection[str] = ()
) -> int:
    """How many of `people` `viewer` may not see one by one: what the floor counts."""
    return len(people) - len(individually_visible(viewer, people, admin_emails))


def aggregate_hidden(
    viewer: Employee | None, people: Sequence[Employee], admin_emails: Collection[str] = ()
) -> bool:
    """Whether an aggregate over `people` must be withheld from `viewer` (the floor)."""
    return floor_of(admin_emails).hides_hidden(hidden_count(viewer, people, admin_emails))


@dataclass(frozen=True)
class SumCells:
    """The people hidden from one viewer, partitioned into cells of at least N (see the
    module's docstring): a sum is shown to the viewer only when its hidden people are
    whole cells."""

    floor: GroupFloor
    cell_of: Mapping[int, int]  # hidden person's id -> their cell's index
    sizes: Sequence[int]  # each cell's number of people

    def shows(self, people: Iterable[int]) -> bool:
        """Whether a sum over the people with these ids may be shown: none of them hidden,
        or the hidden ones whole cells (at least N, which a lone small cell is not)."""
        counts = Counter(self.cell_of[id_] for id_ in people if id_ in self.cell_of)
        if not counts:
            return True
        whole = all(self.sizes[cell] == count for cell, count in counts.items())
        return whole and not self.floor.hides_hidden(sum(counts.values()))

    @classmethod
    def of(
        cls, roots: Iterable[int], chart: OrgChart, hidden: Collection[int], floor: GroupFloor
    ) -> SumCells:
        """Cells of the `hidden` people in the trees below `roots` (by the org chart), made
        bottom up; hidden people no tree reaches (a loop in the data) join what is left."""
        cells: list[list[int]] = []
        seen: set[int] = set()
        left: list[int] = []
        for root in roots:
            if root not in seen:
                left += _pending(root, chart, hidden, floor, cells, seen)
        placed = {id_ for cell in cells for id_ in cell} | set(left)
        left += [id_ for id_ in hidden if id_ not in placed]
        if len(left) >= floor.min_group_size or not cells:
            cells.append(left)
        elif left:
            min(cells, key=len).extend(left)
        cells = [cell for cell in cells if cell]
        cell_of = {id_: index for index, cell in enumerate(cells) for id_ in cell}
        return cls(floor, cell_of, [len(cell) for cell in cells])


def _pending(
    root: int,
    chart: OrgChart,
    hidden: Collection[int],
    floor: GroupFloor,
    cells: list[list[int]],
    seen: set[int],
) -> list[int]:
    """Walks the tree below `root` bottom up (no recursion: trees may be deep): at each
    person, the hidden people below them not yet in a cell become one if they are at
    least N; else they go up, with the person if hidden. Returns what goes up from root."""
    up: dict[int, list[int]] = {}
    stack = [(root, False)]
    seen.add(root)
    while stack:
        node, children_done = stack.pop()
        children = [child for child in chart.get(node, ()) if child != node]
        if not children_done:
            stack.append((node, True))
            for child in children:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, False))
            continue
        below = [id_ for child in children for id_ in up.pop(child, [])]
        if len(below) >= floor.min_group_size:
            cells.append(below)
            below = []
        up[node] = below + ([node] if node in hidden else [])
    return up.pop(root, [])


def sum_cells(
    viewer: Employee | None, admin_emails: Collection[str] = (), chart: OrgChart | None = None
) -> SumCells:
    """The cells for every sum `viewer` may get: for an analyst, everyone else in the
    organisation; for a manager, the people below them they may not see one by one (works-
    council mode); for an admin, or anyone with nobody hidden, none (every sum shows)."""
    floor = floor_of(admin_emails)
    if viewer is None or not has_access(viewer) or is_admin(viewer, admin_emails=admin_emails):
        return SumCells(floor, {}, [])
    if viewer.is_analyst:
        chart = load_org_chart() if chart is None else chart
        ids = [id_ for (id_,) in Employee.select(Employee.id).tuples()]
        below = {
            child for parent, children in chart.items() for child in children if child != parent
        }
        tops = sorted(id_ for id_ in ids if id_ not in below)
        return SumCells.of(tops, chart, set(ids) - {viewer.id}, floor)
    chain = reporting_chain(viewer)
    policy = policy_of(admin_emails)
    hidden = {person.id for person in chain if not policy.shows_individually(person)}
    if not hidden:
        return SumCells(floor, {}, [])
    own_chart: dict[int, list[int]] = {}
    for person in chain:
        if person.manager_id is not None:
            own_chart.setdefault(person.manager_id, []).append(person.id)
    return SumCells.of([viewer.id], own_chart, hidden, floor)


def sum_shown(
    viewer: Employee | None, people: Iterable[int], admin_emails: Collection[str] = ()
) -> bool:
    """Whether `viewer` may get a sum over the people with these ids (the floor, and no
    subtraction between sums): the one test for any group figure a surface shows."""
    return sum_cells(viewer, admin_emails).shows(people)
