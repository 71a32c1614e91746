"""Every HTML page, one module per area: ``dashboard`` (tiles), ``monitors`` (the list and a
monitor's page), ``monitor_edit`` (new, edit, delete, "test now", the rule checker),
``results``, ``manage`` (the admin page: export, import, delete all) and ``site`` (sign-in,
about). Thin: reads go through selectors, writes through services (or a form's ``save``).
``/live/…`` are the fragments the pages poll (htmx, every 15 s: ``static/js/nanomon.js``).
"""
