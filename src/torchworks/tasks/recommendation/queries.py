"""What a prediction asks for, resolved against the bundle's ids: top-N for a known user, for a new
user from a few items (fold-in), or items like one item; with the documented fallback (the most
popular items) for a user the model has never seen and who brings no items.

Inputs are dicts (``{"user": "42"}``, ``{"items": "a,b"}``, ``{"similar": "a"}``: what the CLI's
``user=``, ``items=`` and ``similar=`` become, and what a request's JSON holds), bare strings (a user
id), or a table of users (a CSV, TSV, Parquet or JSON-lines file with a user column).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torchworks.errors import DataError

QUERY_KEYS = ("user", "items", "similar", "item")
USER_COLUMNS = ("user", "user_id", "userid", "customer_id", "customer", "visitor_id", "member_id", "account_id")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson")


@dataclass
class Query:
    """One list to make: who it is for, what the model is given, and what the list must leave out.

    Attributes:
        input: How the record names the query (``user=42``, ``items=a,b``, ``similar=a``).
        user: The user id asked for, or None.
        user_index: The user's index, or ``n_users`` for someone the model has not trained on.
        history: Item indices a new user is folded in from.
        exclude: Item indices never listed (seen items, the items given).
        fallback: ``"popularity"`` when the model has nothing to go on, else None.
        notes: What the record should say about the query (unknown ids, the fallback's reason).
        item: For explanations: the item index asked about, or None.
        similar: For ``similar=``: the item whose nearest items (by the cosine of item vectors) are listed.
    """

    input: str
    user: str | None
    user_index: int
    history: list[int] = field(default_factory=list)
    exclude: set[int] = field(default_factory=set)
    fallback: str | None = None
    notes: list[str] = field(default_factory=list)
    item: int | None = None
    similar: int | None = None

    def model_input(self, length: int | None, n_users: int) -> dict[str, Any]:
        """What the model reads: the user's index and their last ``length`` items (None: a model that
        reads a known user's embedding, and a new user's every item)."""
        if length is None:
            return {"user": self.user_index, "history": self.history if self.user_index >= n_users else []}
        return {"user": self.user_index, "history": self.history[-length:]}


class Catalogue:
    """The bundle's ids as lookups."""

    def __init__(self, state: dict[str, Any]):
        self.state = state
        self.users = positions(state["users"])
        self.items = positions(state["items"])
        self.n_users = len(state["users"])
        self.untrained = frozenset(state.get("untrained_users") or ())


_DERIVED: dict[tuple[int, str], tuple[list, Any]] = {}


def derived(values: list, kind: str, make: Callable[[list], Any]) -> Any:
    """``make(values)`` for one of a bundle's lists, made once per list: a server answers every request from
    the same state, and a million items take ~0.2 s to index. ``kind`` names what is made."""
    key = (id(values), kind)
    cached = _DERIVED.get(key)
    if cached is None or cached[0] is not values:
        if len(_DERIVED) >= 32:  # bundles loaded and dropped again (tests): keep the newest
            _DERIVED.pop(next(iter(_DERIVED)))
        cached = (values, make(values))
        _DERIVED[key] = cached
    return cached[1]


def positions(ids: list[str]) -> dict[str, int]:
    """``{id: index}`` of a bundle's id list (made once per list)."""
    return derived(ids, "positions", lambda values: {value: index for index, value in enumerate(values)})


def resolve_queries(inputs: list[Any], state: dict[str, Any]) -> list[Query]:
    """A query per input (a table of users gives one per row).

    Raises:
        DataError: An input of no known shape, a table without a user column, an unknown item for
            ``similar=``, or an item id list with nothing in it.
    """
    catalogue = Catalogue(state)
    queries: list[Query] = []
    for item in inputs:
        if isinstance(item, dict):
            queries.append(_from_dict(item, catalogue))
        elif isinstance(item, (str, Path)) and _is_table(item):
            queries.extend(_user_query(user, catalogue) for user in read_user_table(item))
        elif isinstance(item, str):
            queries.append(_user_query(item.strip(), catalogue))
        elif isinstance(item, int):
            queries.append(_user_query(str(item), catalogue))
        else:
            raise DataError("a recommendation input of an unknown kind", expected="a user id, a dict with user=, "
                            "items= or similar=, or a table of users", got=type(item).__name__,
                            hint="torchworks predict RUN user=42, items=A,B or similar=A")
    return queries


def _is_table(item: str | Path) -> bool:
    text = str(item)
    if Path(text).suffix.lower() in TABLE_SUFFIXES:
        if not Path(text).is_file():
            raise DataError(f"'{text}' does not exist", expected="a table of users (CSV, TSV, Parquet, JSON lines)",
                            got="no such file", hint="check the path; a user id is given as user=ID")
        return True
    return False


def read_user_table(path: str | Path) -> list[str]:
    """The user ids of a table, from its user column (by name), else its only column."""
    from torchworks.tables import as_text, find_column, read_source

    frame, rows = read_source(path, "a table of user ids")
    column = find_column(frame, USER_COLUMNS) or (frame.columns[0] if len(frame.columns) == 1 else None)
    if column is None:
        raise DataError(f"'{rows.source}' has no user column", expected="a column called user (or user_id, "
                        "customer_id, ...), or a single column", got="columns " + ", ".join(frame.columns),
                        hint="rename the column of user ids to user")
    text, missing = as_text(frame[column])
    return [value for value, empty in zip(text, missing) if not empty]


def _from_dict(item: dict[str, Any], catalogue: Catalogue) -> Query:
    unknown = [key for key in item if key not in QUERY_KEYS]
    if unknown or not item:
        raise DataError(f"a query with {'no keys' if not item else 'the key ' + repr(unknown[0])}",
                        expected="user=ID, items=ID,ID,... or similar=ID", got=", ".join(map(str, item)) or "{}",
                        hint="ask for one user, a few items (a new user) or items like one item")
    if item.get("similar") not in (None, ""):
        query = _similar_query(str(item["similar"]).strip(), catalogue)
    elif item.get("user") not in (None, ""):
        query = _user_query(str(item["user"]).strip(), catalogue)
    else:
        query = _items_query(_id_list(item.get("items")), catalogue)
    if item.get("item") not in (None, ""):
        query.item = _known_item(str(item["item"]).strip(), catalogue, "item")
    return query


def _id_list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    ids = [str(part).strip() for part in (value or []) if str(part).strip()]
    if not ids:
        raise DataError("no items to recommend from", expected="items=ID,ID,... (item ids of the catalogue)",
                        got=repr(value), hint="give one or more item ids, comma-separated")
    return ids


def _user_query(user: str, catalogue: Catalogue) -> Query:
    state = catalogue.state
    index = catalogue.users.get(user)
    if index is None:
        return Query(f"user={user}", user, catalogue.n_users, fallback="popularity",
                     notes=[f"user '{user}' is not one the model knows: the most popular items"])
    history = list(state["histories"][index])
    exclude = set(history) if state["exclude_seen"] else set()
    if index in catalogue.untrained:  # no embedding of their own: someone new, from their items
        query = Query(f"user={user}", user, catalogue.n_users, history=history, exclude=exclude,
                      notes=[f"user '{user}' came after the training period: folded in from their "
                             f"{len(history)} item(s)"])
        if not reads_items(state):
            query.fallback = "popularity"
            query.notes.append(f"a {state['model']} model cannot fold a user in: the most popular items")
        return query
    return Query(f"user={user}", user, index, history=history, exclude=exclude)


def _items_query(ids: list[str], catalogue: Catalogue) -> Query:
    known = [catalogue.items[item] for item in ids if item in catalogue.items]
    unknown = [item for item in ids if item not in catalogue.items]
    query = Query("items=" + ",".join(ids), None, catalogue.n_users, history=known, exclude=set(known))
    if unknown:
        query.notes.append("unknown item(s) left out: " + ", ".join(unknown[:10]))
    if not known:
        query.fallback = "popularity"
        query.notes.append("none of the items is in the catalogue: the most popular items")
    elif not reads_items(catalogue.state):
        query.fallback = "popularity"
        query.notes.append(f"a {catalogue.state['model']} model cannot fold a new user in: the most popular "
                           "items (model=mf can)")
    return query


def _similar_query(item: str, catalogue: Catalogue) -> Query:
    index = _known_item(item, catalogue, "similar")
    query = Query(f"similar={item}", None, catalogue.n_users, history=[index], exclude={index}, similar=index)
    if not reads_items(catalogue.state):
        query.fallback = "popularity"
        query.notes.append(f"a {catalogue.state['model']} model cannot rank items like one item: the most "
                           "popular items (model=mf can)")
    return query


def reads_items(state: dict[str, Any]) -> bool:
    """Whether the model makes a list from items alone (its inputs hold a history): mf folds a new user
    in from them, sequential reads them; neumf cannot."""
    from torchworks.tasks.recommendation.models import MODEL_INPUTS

    return "history" in MODEL_INPUTS[state["model"]]


def _known_item(item: str, catalogue: Catalogue, key: str) -> int:
    from torchworks.errors import closest

    if item not in catalogue.items:
        close = closest(item, list(catalogue.items)[:50_000])
        raise DataError(f"{key}={item} is not an item of the catalogue", expected="an item id the model was trained "
                        f"with (for example {next(iter(catalogue.items))})", got=item,
                        hint=f"did you mean '{close}'?" if close else "item ids are those of the training data; "
                        "the page at /ui and the run's report list some")
    return catalogue.items[item]
