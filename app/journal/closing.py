"""Closed journals: once every child an observation is about has left, it is read as it
is (and packed), but nothing joins it and nothing in it changes, except that a manager
may still correct its words (a family may ask for that after leaving: rectification).
"""

from __future__ import annotations

from app.journal.models import Observation, ObservationStatus


def journal_closed(observation: Observation) -> bool:
    """Whether the observation is in closed journals only: every child it is about has
    left, so their journals are closed (still read, and packed, as they are) and staff
    no longer see them to read what is added. A group observation about a child still
    here stays open: it is that child's journal too, and staff see it there. A draft is
    in no journal (its children can still be changed).

    Publishing is stricter on purpose: a draft or a held observation with any child who
    has left would *join* that child's closed journal, so it is refused until they are
    taken off (``publishing._refuse_children_who_left``)."""
    children = observation.children  # none: in no journal (a row not yet tagged)
    return (
        observation.status is not ObservationStatus.DRAFT
        and bool(children)
        and all(child.is_archived for child in children)
    )


def journal_closed_message(names: list[str]) -> str:
    """What a refusal says of the children whose journals are closed."""
    if len(names) == 1:
        return f"{names[0]} has left: their journal is closed."
    return f"{', '.join(names)} have left: their journals are closed."


def closed_to_staff(observation: Observation) -> str | None:
    """Why staff may not change the observation (its photos, its status), if it is closed:
    said with the children's full names, as staff know them."""
    if not journal_closed(observation):
        return None
    return journal_closed_message([child.full_name for child in observation.children])
