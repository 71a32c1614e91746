"""``manage.py probe TARGET``: run one check now through the engine and print the result.

Nothing is stored. Exit status: 0 OK, 1 Error (the rule was violated), 2 Failed; 64
(``EX_USAGE``) for any mistake on the command line: an argument argparse refuses (a missing
target, an unknown ``--type``), a bad property, rule or target. Usage errors once shared 2
with Failed (argparse's own code), so a script could not tell a typo from an outage; 3, the
old code of the other mistakes, is no longer used.
"""

from __future__ import annotations

import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser

from monitors.autodetect import decide_kind, why_undecided
from monitors.engine import CheckRequest, CheckStatus
from monitors.probes import REGISTRY
from monitors.services import check_once
from monitors.validation import check_monitor_definition

USAGE_ERROR = 64  # EX_USAGE of sysexits.h (os.EX_USAGE, where the platform has it)


class Command(BaseCommand):
    help = (
        "Run one check against TARGET and print status, value, message and outputs without "
        "storing anything. The type is detected from the target when --type is left out: "
        "http(s)://… → http, host:port or [v6]:port → tcp, a host or IP → ping."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        django_error = parser.error

        def error(message: str) -> None:
            if parser.called_from_command_line:  # argparse would exit 2, Failed's code
                parser.print_usage(sys.stderr)
                parser.exit(USAGE_ERROR, f"{parser.prog}: error: {message}\n")
            django_error(message)  # call_command(): Django's CommandError

        parser.error = error
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", help="URL, host:port, host name or IP address")
        parser.add_argument(
            "--type", dest="kind", choices=sorted(REGISTRY), help="monitor type (default: detect)"
        )
        parser.add_argument(
            "--prop",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a property, e.g. --prop timeout=2s (repeatable)",
        )
        parser.add_argument("--rule", default="", help="rule expression, e.g. 'status == 200'")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options) -> None:
        target = options["target"]
        try:
            if not options["kind"] and (reason := why_undecided(target)) is not None:
                raise ValueError(reason)
            kind, rule = decide_kind(options["kind"] or "", target, options["rule"])
            properties = dict(_split_property(item) for item in options["prop"])
            check_monitor_definition(
                name="one-off", kind=kind, interval="1m", target=target,
                rule=rule, properties=properties,
            )  # fmt: skip
        except ValueError as error:
            self._usage_error(str(error))
        except ValidationError as error:
            self._usage_error("; ".join(message for messages in error.message_dict.values()
                                        for message in messages))  # fmt: skip

        result = check_once(
            CheckRequest(kind=kind, target=target, properties=properties, rule=rule)
        )
        outputs = result.stored_outputs
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "type": kind,
                        "target": target,
                        "date": result.started_at.isoformat(),
                        "status": int(result.status),
                        "value": result.value,
                        "message": result.message,
                        "outputs": outputs,
                    },
                    indent=2,
                )
            )
        else:
            self.stdout.write(f"{result.status.name:<7}{kind} {target}")
            self.stdout.write(f"value   {result.value:g}")
            if result.message:
                self.stdout.write(f"message {result.message}")
            for name, value in (outputs or {}).items():
                self.stdout.write(f"  {name} = {value}")
        sys.exit(_EXIT_CODES[result.status])

    def _usage_error(self, message: str) -> None:
        self.stderr.write(f"probe: {message}")
        sys.exit(USAGE_ERROR)


_EXIT_CODES = {CheckStatus.OK: 0, CheckStatus.ERROR: 1, CheckStatus.FAILED: 2}


def _split_property(item: str) -> tuple[str, str]:
    name, separator, value = item.partition("=")
    if not separator or not name:
        raise ValueError(f"--prop takes NAME=VALUE, got {item!r}")
    return name, value
