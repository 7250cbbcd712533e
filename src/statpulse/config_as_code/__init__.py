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

**What the API cannot do.** Pages and components can only be created through the API (there is
no PATCH or DELETE for them; a page's components are read with
``GET /api/v1/pages/{slug}/components``). A difference apply cannot make (a page's title, a
component's monitor, ``--prune`` of a page or component) is a ``!`` line of the plan, and apply
then changes nothing and exits 1.
"""
