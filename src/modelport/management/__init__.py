"""Managing the served models: the management actions and what keeps every process and
the database in step with them.

- ``actions.py``: :class:`ModelManager`, one method per action (upload, versions,
  delete a version, set and delete aliases, reload, load, unload).
- ``audit.py``: who asked (:class:`Actor`) and the audit entry each action writes,
  tagged with this process's origin, which rings the change feed's doorbell.
- ``following.py``: other processes' actions replayed here, and watch mode's changes.
- ``catalog.py``: the database's version rows and aliases kept in step with the files.
- ``startup.py``: the first load, and the database brought up to date with it.
- ``uploads.py``: an upload checked before anything is written, then written.
- ``files.py``: the model folder's housekeeping (next version number, removal,
  leftovers of killed processes).

The model files are the source of truth for artifacts; the database records every
version (sha256, size, state, who), the aliases, and an audit entry per action. The API
layer authenticates; nothing here sees a request.
"""
