"""Configuration as code: ``statpulse config export`` and ``statpulse config apply``.

The file is YAML, ``{monitors: [...], pages: [...]}``; nothing else at the top level.

- A **monitor** is named by its ``name`` (unique in the file) and has exactly the fields of the
  API's ``MonitorIn``, except ``depends_on``, which names another monitor of the file. Export
  leaves out fields equal to their default (and the ``regions`` of a heartbeat monitor, which
  the server sets to ``["push"]`` itself).
- A **page** is named by its ``slug`` and has ``title``, ``description`` and ``components``;
  a component is named by its ``name`` (unique within its page) and has ``description`` and
  ``monitor`` (a monitor's name in the file, or absent).

The file is validated whole before any request (``document.py``): the API's own pydantic models
(``MonitorIn``, ``PageIn``, ``ComponentIn``) and its kind checks (``check_config``), every error
naming its path in the file (``monitors[2].interval_s: ...``). ``${NAME}`` in a string value is
the environment variable NAME (``$${`` is a literal ``${``); an unset one is an error naming
the field. ``export.py`` writes a file from the organisation's state (``state.py``);
``plan.py`` compares the file with what the API's GETs return and lists the steps;
``client.py`` makes the REST calls; ``cli.py`` is the Typer sub-app.

**Secrets.** The API never returns header values, gRPC metadata values or the client key
(``********``). Export therefore writes each of them as a ``${VAR}`` reference
(``${BILLING_API_AUTHORIZATION}``) and lists the variables in a comment at the top of the file:
the user sets them before applying; the redacted placeholder is never written as a value. For
the same reason apply compares only which secrets exist (header names, metadata keys, whether
a client key is set), not their values: a changed value alone is not sent. To rotate one,
``PATCH /api/v1/monitors/{id}`` it (a secret added or removed in the file is sent, with every
value of that field).

**Pages and components.** A page's components are read with
``GET /api/v1/pages/{slug}/components``; a changed title or description is a
``PATCH /api/v1/pages/{slug}``, a component's changed description or monitor a
``PATCH /api/v1/components/{id}``. A component can be on several pages (the file lists it under
each, by name): it is changed once, and pages of the file that give it different values are a
``!`` line. With ``--prune``, a page the file does not name is deleted, and a component that no
page of the file lists any more is deleted (from every page); one that another page of the file
still lists is only taken off the others (``PATCH`` of its ``pages``). A page with two
components of one name is a ``!`` line too (the file cannot tell them apart). Apply changes
nothing and exits 1 when the plan has a ``!`` line.
"""
