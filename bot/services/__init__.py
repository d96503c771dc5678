"""The use cases, as plain async functions `fn(deps, actor, …) -> result dataclass`, or a typed
`bot.services.errors.ServiceError` whose fields say who, what and why (the Slack handlers and the CLI each word
it for their reader). Nothing here imports Slack, and nothing here names a provider: whatever differs between
providers is a method of the task's target (`bot.targets`), found with `tasks.target_of(task)`.

Wiring is `bot.app`: `Deps(sessions, ProviderRegistry.from_settings(settings), settings)`.

Modules:
- permissions: `authorize(deps, actor, action, task=None)`, the only place that decides (view < propose <
  approve < admin); `require`, `checker` (grants read once for many tasks), `authorize_somewhere`.
- tasks: `add_task(deps, actor, provider, alias, ids, options, force=False)` (the target parses the ids and
  options), `list_tasks`, `visible_tasks`, `list_statuses`, `show_task`, `remove_task`, `load_authorized`.
- changes: `propose(deps, actor, alias, change)` for a target's change, a `Patch` or a `Rollback`;
  `approve(…, expected_hash=, idempotency_key=)`, `reject`, `cancel`, `unlock`, `set_policy`, `attach_message`.
- applying: `apply(deps, actor, request_id)`: sends an approved change and reaches a true verdict (applied,
  failed, unknown), sending it again while the outcome is not known.
- recovery: `apply_approved(deps)`, `recover_applying(deps, older_than=)` for what a crash left behind.
- change_views: `get_request`, `result_of`, `history`, `pending_for_approver`, `my_open_requests`, `recent_changes`.
- editors: `open_editor(deps, actor, alias, verb)`, `read_editor(verb, values, initial, context)` (pure).
- catalogue: what the targets offer the /rtc grammar (`verbs`, `providers`, `parse_change`).
- grants, audit, home, idempotency, policy: as named.
"""
