"""Restoring a backup: read line by line from a stream, every record checked, all in one
transaction. The backup becomes the state, or nothing changes.

1. The header is read and checked before anything is touched.
2. In one transaction: every monitor's row is locked in id order (as every writer of results
   does, so a batch being recorded finishes first or finds its monitors gone), everything
   that belongs to monitors and channels, and the maintenance windows, is emptied (TRUNCATE
   on PostgreSQL), then the records are inserted in groups as they are read and checked.
3. The ``end`` record's counts must match; a refused record, a line that is not JSON, a file
   cut short, or any database error rolls the whole transaction back.

Ids are kept: results, states and policies name their monitor by id, and the API's result
cursor stays meaningful. On PostgreSQL the id sequences are moved past the restored ids.
Monitors are scheduled as a save schedules them: enabled ones run at once, with no claim, so
any batch in flight for the old monitors records nothing (its claim token is gone). Alert
states start over (unknown); transitions and notifications are not part of a backup.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.core.management.color import no_style
from django.db import DataError, IntegrityError, connection, models, transaction
from django.utils import timezone

from alerts.models import Channel, Dependency, MaintenanceWindow, MonitorAlertPolicy
from backups.checks import (
    checked_channel,
    checked_monitor,
    checked_policy,
    checked_window,
    record_id,
)
from backups.records import (
    END,
    MAX_LINE_BYTES,
    Header,
    Refused,
    codec_for,
    read_header,
)
from monitors.models import Monitor
from results.models import MonitorState

GROUP = 1000
Readline = Callable[[int], bytes]


@dataclass
class _Reader:
    """Lines of a byte stream as JSON objects, each with its number."""

    readline: Readline
    number: int = 0

    def next_record(self) -> dict | None:
        """The next non-blank line's object, or None at the end of the stream."""
        while True:
            raw = self.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return None
            self.number += 1
            if len(raw) > MAX_LINE_BYTES:
                raise Refused(
                    self.number,
                    f"the line is longer than {MAX_LINE_BYTES} bytes: records must be one per "
                    "line (curl's -d removes newlines: send the file with --data-binary @FILE)",
                )
            if raw.strip():
                break
        try:
            record = json.loads(raw)
        except UnicodeDecodeError:
            raise Refused(self.number, "the line is not UTF-8") from None
        except RecursionError:
            raise Refused(self.number, "the line's JSON is nested too deeply") from None
        except ValueError as error:
            if error.msg == "Extra data":
                hint = (
                    " (one record per line: curl's -d removes newlines, send the file with "
                    "--data-binary @FILE)"
                )
            elif not raw.endswith(b"\n"):
                hint = " (the file ends in the middle of it: cut short?)"
            else:
                hint = ""
            raise Refused(self.number, f"the line is not JSON: {error.msg}{hint}") from None
        if not isinstance(record, dict):
            raise Refused(self.number, "the line is not a JSON object")
        return record


@dataclass
class Restored:
    """What a restore wrote: the header it read and the records of each type."""

    header: Header
    counts: dict[str, int] = field(default_factory=dict)


def restore_stream(
    readline: Readline,
    *,
    kind: str | None = None,
    progress: Callable[[dict[str, int]], None] | None = None,
) -> Restored:
    """Restore the backup read by ``readline(limit)`` (a file's or a request's). ``kind``,
    when given, is the kind the file must be (``config`` at /api/backup, ``full`` at
    /api/backup_full). Raises ``Refused`` (nothing changed) or a database error (nothing
    changed either)."""
    reader = _Reader(readline)
    first = reader.next_record()
    if first is None:
        raise Refused(0, "the file is empty: a backup starts with its header record")
    header = read_header(first)
    if kind is not None and header.kind != kind:
        route = "/api/backup_full" if header.kind == "full" else "/api/backup"
        raise Refused(1, f"this is a {header.kind} backup: send it to {route}")
    try:
        with transaction.atomic():
            _clear()
            loader = _Loader(header, reader, progress)
            loader.run()
    except (IntegrityError, DataError) as error:
        # What the checks let through and the database did not take (a value out of a
        # column's range…): rolled back. Its text may quote values, so it is not repeated.
        raise Refused(
            reader.number,
            f"the database refused a record of the group read up to this line "
            f"({type(error).__name__})",
        ) from None
    return Restored(header=header, counts=loader.counts)


def _owned_models() -> list[type[models.Model]]:
    """Monitor, Channel, MaintenanceWindow and every model whose rows belong to them (a
    foreign key to one of them, or to such a model, and so on), including many-to-many
    tables: what a restore empties. Children come first."""
    owned: list[type[models.Model]] = [Channel, Monitor, MaintenanceWindow]
    every = apps.get_models(include_auto_created=True)
    changed = True
    while changed:
        changed = False
        for model in every:
            if model in owned:
                continue
            if any(
                relation.is_relation and relation.related_model in owned
                for relation in model._meta.concrete_fields
            ):
                owned.append(model)
                changed = True
    return owned[::-1]


def _clear() -> None:
    list(Monitor.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
    tables = [model._meta.db_table for model in _owned_models()]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # TRUNCATE refuses tables with deferred constraint checks pending from earlier
            # writes of an enclosing transaction: they are run now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(quote(table) for table in tables)}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {quote(table)}")  # noqa: S608 (model tables)


class _Loader:
    """Reads the records after the header and inserts them in groups of ``GROUP``."""

    def __init__(self, header: Header, reader: _Reader, progress) -> None:
        self.header = header
        self.reader = reader
        self.progress = progress
        self.counts: dict[str, int] = dict.fromkeys(header.records, 0)
        self.now = timezone.now()
        self.monitor_ids: set[int] = set()
        self.channel_ids: set[int] = set()
        self.state_ids: set[int] = set()
        self.builtins: set[str | None] = set()
        self.pending: list[models.Model] = []
        self.links: list[tuple[int, int]] = []  # (policy's monitor id, channel id)
        self.escalation_links: list[tuple[int, int]] = []  # the same, escalation channels
        self.parent_links: list[tuple[int, int]] = []  # (child monitor id, parent monitor id)
        # Every dependency of the file so far (parent id → children): cycles are refused.
        self.dependents: dict[int, set[int]] = {}
        self.window_links: list[tuple[int, int]] = []  # (window id, monitor id)
        self.codecs = {name: codec_for(name) for name in header.records if name in _HISTORY}
        self.previous: object = None

    def run(self) -> None:
        order = list(self.header.records)
        position = -1
        current = None
        while True:
            record = self.reader.next_record()
            line = self.reader.number
            if record is None:
                raise Refused(
                    line + 1, f"the file ends after line {line} without its end record: cut short?"
                )
            name = record.get("record")
            if name == END:
                self._flush(current)
                self._finish(record, line)
                break
            if name not in order:
                raise Refused(
                    line,
                    f"field 'record' must be one of {', '.join([*order, END])} in a "
                    f"{self.header.kind} backup, not {name!r}",
                )
            if order.index(name) != position:
                if order.index(name) < position:
                    raise Refused(
                        line,
                        f"{name} record after the {current} records: "
                        f"the order is {', '.join(order)}",
                    )
                self._flush(current)
                position, current, self.previous = order.index(name), name, None
            self._add(name, record, line)
            if len(self.pending) >= GROUP:
                self._flush(current)
        if self.reader.next_record() is not None:
            raise Refused(self.reader.number, "a record after the end record")

    def _add(self, name: str, record: dict, line: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        if name == "channel":
            channel = checked_channel(record, line, self.previous)
            if channel.builtin and channel.builtin in self.builtins:
                raise Refused(line, "channel record: field 'builtin': a second built-in channel")
            self.builtins.add(channel.builtin)
            self.previous = channel.pk
            self.channel_ids.add(channel.pk)
            self.pending.append(channel)
        elif name == "monitor":
            monitor = checked_monitor(record, line, self.previous, now=self.now)
            self.previous = monitor.pk
            self.monitor_ids.add(monitor.pk)
            self.pending.append(monitor)
        elif name == "policy":
            policy, channels, escalation, parents = checked_policy(
                record,
                line,
                self.previous,
                monitor_ids=self.monitor_ids,
                channel_ids=self.channel_ids,
                dependents=self.dependents,
            )
            self.previous = policy.monitor_id
            for parent_id in parents:
                self.dependents.setdefault(parent_id, set()).add(policy.monitor_id)
            self.pending.append(policy)
            self.links.extend((policy.monitor_id, channel_id) for channel_id in channels)
            self.escalation_links.extend(
                (policy.monitor_id, channel_id) for channel_id in escalation
            )
            self.parent_links.extend((policy.monitor_id, parent_id) for parent_id in parents)
        elif name == "window":
            window, monitors = checked_window(
                record, line, self.previous, monitor_ids=self.monitor_ids
            )
            self.previous = window.pk
            self.pending.append(window)
            self.window_links.extend((window.pk, monitor_id) for monitor_id in monitors)
        else:
            self._add_history(name, record, line)

    def _add_history(self, name: str, record: dict, line: int) -> None:
        codec = self.codecs[name]
        values = codec.decode(record, line)
        monitor_id = values["monitor_id"]
        if monitor_id not in self.monitor_ids:
            raise Refused(
                line, f"{name} record: field 'monitor': monitor {monitor_id} is not in the file"
            )
        key = tuple(values[column] for column in _HISTORY[name])
        if self.previous is not None and key <= self.previous:
            word = "duplicate" if key == self.previous else "out of order"
            raise Refused(
                line,
                f"{name} record: {word} ({', '.join(_HISTORY[name])} must ascend, each once)",
            )
        if name == "result":
            record_id(record, "id", "result", line, None)
        self.previous = key
        if name == "state":
            self.state_ids.add(monitor_id)
        self.pending.append(codec.model(**values))

    def _flush(self, name: str | None) -> None:
        if not self.pending:
            return
        objects, self.pending = self.pending, []
        model = type(objects[0])
        dates = [(obj.created_at, obj.updated_at) for obj in objects] if name in _DATED else None
        model.objects.bulk_create(objects, batch_size=GROUP)
        if dates is not None:
            # bulk_create stamps auto_now(_add) dates with now: the backup's are put back.
            for obj, (created, updated) in zip(objects, dates, strict=True):
                obj.created_at, obj.updated_at = created, updated
            model.objects.bulk_update(objects, ["created_at", "updated_at"], batch_size=GROUP)
        if name == "policy":
            for relation, links in (
                (MonitorAlertPolicy.channels, self.links),
                (MonitorAlertPolicy.escalation_channels, self.escalation_links),
            ):
                through = relation.through
                through.objects.bulk_create(
                    [
                        through(monitoralertpolicy_id=monitor_id, channel_id=channel_id)
                        for monitor_id, channel_id in links
                    ],
                    batch_size=GROUP,
                )
            Dependency.objects.bulk_create(
                [
                    Dependency(child_id=child, parent_id=parent)
                    for child, parent in self.parent_links
                ],
                batch_size=GROUP,
            )
            self.links, self.escalation_links, self.parent_links = [], [], []
        if name == "window":
            through = MaintenanceWindow.monitors.through
            through.objects.bulk_create(
                [
                    through(maintenancewindow_id=window_id, monitor_id=monitor_id)
                    for window_id, monitor_id in self.window_links
                ],
                batch_size=GROUP,
            )
            self.window_links = []
        if self.progress is not None:
            self.progress(dict(self.counts))

    def _finish(self, record: dict, line: int) -> None:
        stated = record.get("counts")
        if not isinstance(stated, dict):
            raise Refused(line, "end record: field 'counts' must be an object")
        for name in {*stated, *self.counts}:
            if stated.get(name, 0) != self.counts.get(name, 0):
                raise Refused(
                    line,
                    f"end record: field 'counts' says {stated.get(name, 0)} {name} records, "
                    f"the file holds {self.counts.get(name, 0)}",
                )
        # Every monitor has a state row (a save creates it): a fresh one where none came.
        MonitorState.objects.bulk_create(
            [MonitorState(monitor_id=pk) for pk in self.monitor_ids - self.state_ids],
            batch_size=GROUP,
        )
        if connection.vendor == "postgresql":
            sequenced = [
                Channel,
                Monitor,
                MaintenanceWindow,
                *(codec.model for codec in self.codecs.values()),
            ]
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), sequenced):
                    cursor.execute(statement)
        if self.progress is not None:
            self.progress(dict(self.counts))


_HISTORY = {
    "state": ("monitor_id",),
    "result": ("id",),
    "rollup": ("monitor_id", "resolution", "start"),
}
_DATED = {"channel", "monitor", "window"}
