"""One sentence out of a validation error, for API problems, forms and imports."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def first_message(errors: object) -> str:
    """One sentence out of DRF's error structures: the first message, named by its field.

    ``{"enabled": ["must be true or false"]}`` gives ``enabled: must be true or false``;
    non-field errors and plain strings (the contract's messages) are returned as they are.
    """
    if isinstance(errors, Mapping):
        if not errors:
            return "invalid request"
        key, value = next(iter(errors.items()))
        message = first_message(value)
        if key in {"detail", NON_FIELD_ERRORS, "non_field_errors"}:
            return message
        return f"{key}: {message}"
    if isinstance(errors, list | tuple):
        return first_message(errors[0]) if errors else "invalid request"
    return str(errors)


def first_error_message(error: ValidationError) -> str:
    """The first message of ``error``, named by its field (``kind`` is the API's ``type``)
    unless it is a non-field error: ``interval: …``, or the message alone."""
    if hasattr(error, "error_dict"):
        field, messages = next(iter(error.message_dict.items()))
        if field == NON_FIELD_ERRORS:
            return messages[0]
        return f"{'type' if field == 'kind' else field}: {messages[0]}"
    return error.messages[0] if error.messages else "invalid request"
