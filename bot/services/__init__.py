"""The use cases, as plain async functions: `fn(deps, actor, …) -> result dataclass`, or a typed
`bot.services.errors.ServiceError` the Slack layer renders with `str(exc)` (the admin CLI prints `exc.terminal`,
worded without /rtc advice). Nothing here imports Slack.

Wiring (once, at start-up)::

    engine = bot.store.create_engine(settings.database_url)
    await bot.store.schema.ensure_current(engine)          # one-line SchemaNotCurrent if behind
    deps = Deps(bot.store.session_factory(engine), ProviderRegistry.from_settings(settings), settings)
    await recovery.recover_applying(deps)                  # report what a crash left half-done

Who: `deps.Actor(team_id, user_id, group_ids=frozenset())` (the handler resolves the user's groups).

Modules and their functions:
- permissions: `authorize(deps, actor, action, task=None) -> Decision(allowed, reason, missing_role)`, the only
  place that decides; actions view < propose < approve < admin; `COMMAND_ACTIONS` maps each /rtc subcommand to
  its action; `require(...)` raises PermissionDenied; `authorize_somewhere` (any scope: the listings' gate);
  `checker(deps, actor, action)` reads the grants once for many tasks.
- Every function that takes an alias or a request id checks permission before it says anything about it:
  a missing alias is checked as `unknown_task(alias)` (only global and task:<alias> grants reach it), so
  someone without a role gets the same denial whether or not it exists (`tasks.load_authorized`).
- tasks: `add_task(deps, actor, VolcengineTask|TencentTask, force=False) -> TaskAdded` (Tencent NotExist is
  UnknownAtProvider unless force; `TaskAdded.warnings` lists what to check, e.g. Volcengine Get not finding it),
  `list_tasks -> [TaskInfo]` (refuses someone with no role at all), `visible_tasks -> [TaskInfo]` (never refuses),
  `list_statuses -> [TaskStatus]`, `show_task(alias) -> TaskStatus` (provider state, drift), `remove_task(alias)`.
- grants: `grant(deps, actor, subject, role, scope=None, expires_at=None) -> GrantInfo` (the same subject, role
  and scope again updates that grant's expiry),
  `revoke(deps, actor, subject, role, scope=None) -> int`, `list_grants(deps, actor, subject=None)`,
  `parse_subject("<@U1>"|"<!subteam^S1>"|"U1")`, `approvers_for(deps, actor, alias) -> [Subject]` (who else
  could approve a change on the task: users and groups, unexpired, plus RTCOPS_ADMIN_USERS).
- changes: `propose_layout_preset(deps, actor, alias, preset, streams, options=None)`,
  `propose_region_edit(deps, actor, alias, stream_index, fields)`,
  `propose_ingest(deps, actor, alias, stream_url=, volume=, pause=, extra=)`,
  `propose_patch(deps, actor, alias, patch)`, `propose_rollback(deps, actor, alias, version)`
  -> ChangeResult (state "pending" if it needs approval, else "approved": call `apply` next);
  `approve(deps, actor, request_id, expected_hash=None)`, `reject(…, reason=None)`, `cancel(…)`,
  `apply(deps, actor, request_id) -> ChangeResult` (state applied/failed/unknown, RequestId or error code; after
  a timeout it may stay "applying" until the recovery sweep settles and reports it),
  `get_request`, `history(deps, actor, alias) -> History`, `unlock(deps, actor, alias)`,
  `set_policy(deps, actor, alias, kind, needs_approval)`, `pending_for_approver(deps, actor)`,
  `my_open_requests(deps, actor)`, `recent_changes(deps, actor, limit=10) -> [ChangeSummary]`,
  `attach_message(deps, request_id, channel_id=, message_ts=, permalink=)` (ChangeResult then carries
  channel_id, message_ts and link).
- home: `home(deps, actor) -> HomeSummary(waiting, mine, tasks, recent)`, App Home in one call.
- forms (pure, no store): `preset_catalogue()`, `layout_editor(status)`, `ingest_editor(status)`,
  `validate_layout_form(...)`, `validate_region_edit(...)`, `validate_ingest_form(...)` -> (proposal,
  errors keyed by field name = the form's block id).
- editors: `open_layout_editor` / `open_ingest_editor(deps, actor, alias)`, `propose_layout` /
  `propose_ingest(deps, actor, alias, form)`.
- recovery: `recover_applying(deps) -> [RecoveryOutcome]` (each with the request's ChangeResult, to report).
- idempotency: `claim(deps, key) -> bool` (first caller wins), `prune(deps)`.
- audit: `list_audit(deps, actor, alias=None, limit=50) -> [AuditEntry]`.
"""
