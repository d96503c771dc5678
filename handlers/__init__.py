"""Bolt listeners, one module per Slack surface (`commands` for all of /rtc, `actions` for buttons, `views`
for modal submissions, `home` for App Home), each with `register(app)`; `lifecycle` renders a change's life
in Slack, `blocks` builds Block Kit, `grammar` parses /rtc. They parse, call one service and render its
result; `bot.app` builds the app and wires them."""
