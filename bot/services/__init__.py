"""The use cases, as plain async functions: `fn(deps, actor, …) -> result dataclass`, or a typed
`bot.services.errors.ServiceError` the Slack layer renders with `str(exc)`. Nothing here imports Slack.

Wiring (once, at start-up)::

    engine = bot.store.create_engine(settings.database_url)
    await bot.store.schema.ensure_current(engine)          # one-line SchemaNotCurrent if behind
    deps = Deps(bot.store.session_factory(engine), ProviderRegistry.from_settings(settings), settings)
    await recovery.recover_applying(deps)                  # report what a crash left half-done

Who: `deps.Actor(team_id, user_id, group_ids=frozenset())` (the handler resolves the user's groups).

Modules and their functions:
- permissions: `authorize(deps, actor, action, task=None) -> Decision(allowed, reason, missing_role)`, the only
  place that decides; actions view < propose < approve < admin; `COMMAND_ACTIONS` maps each /rtc subcommand to
  its action; `require(...)` raises PermissionDenied.
- tasks: `add_task(deps, actor, VolcengineTask|TencentTask) -> TaskAdded`, `list_tasks -> [TaskInfo]`,
  `list_statuses -> [TaskStatus]`, `show_task(alias) -> TaskStatus` (provider state, drift), `remove_task(alias)`.
- grants: `grant(deps, actor, subject, role, scope=None, expires_at=None) -> GrantInfo`,
  `revoke(deps, actor, subject, role, scope=None) -> int`, `list_grants(deps, actor, subject=None)`,
  `parse_subject("<@U1>"|"<!subteam^S1>"|"U1")`.
- changes: `propose_layout_preset(deps, actor, alias, preset, streams, options=None)`,
  `propose_region_edit(deps, actor, alias, stream_index, fields)`,
  `propose_ingest(deps, actor, alias, stream_url=, volume=, pause=, extra=)`,
  `propose_patch(deps, actor, alias, patch)`, `propose_rollback(deps, actor, alias, version)`
  -> ChangeResult (state "pending" if it needs approval, else "approved": call `apply` next);
  `approve(deps, actor, request_id, expected_hash=None)`, `reject(…, reason=None)`, `cancel(…)`,
  `apply(deps, actor, request_id) -> ChangeResult` (state applied/failed/unknown, RequestId or error code),
  `get_request`, `history(deps, actor, alias) -> History`, `unlock(deps, actor, alias)`,
  `set_policy(deps, actor, alias, kind, needs_approval)`, `pending_for_approver(deps, actor)`,
  `attach_message(deps, request_id, channel_id=, message_ts=, permalink=)`.
- recovery: `recover_applying(deps) -> [RecoveryOutcome]`.
- idempotency: `claim(deps, key) -> bool` (first caller wins), `prune(deps)`.
- audit: `list_audit(deps, actor, alias=None, limit=50) -> [AuditEntry]`.
"""
