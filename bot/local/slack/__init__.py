"""An emulated Slack workspace: local mode's Slack, and the one the tests drive (tests/emulators/slack_api.py).

Read in this order: ``state`` (what a workspace holds and how it changes), ``shapes`` (records as Slack's JSON),
``web_api`` (the Web API methods the bot calls), ``delivery`` (signed events, commands and interactions sent
to the app), ``human`` (people posting, clicking, submitting), ``store`` (local mode's workspace on disk) and
``workspace`` (local mode's assembly, with the playground's state and live events).
"""
