"""The API kit shared by every app's API: problems (RFC 9457 errors and the four error views),
query parameters, the JSON parser, renderers and OpenAPI schema hooks."""
